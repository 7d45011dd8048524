library(survival); library(jsonlite)
d <- read.csv("cox_extra.csv"); d$arm <- factor(d$arm, levels=c("IVUS","OCT","angio"))
out <- list()
g <- function(f) { s <- summary(f); list(term=names(coef(f)), coef=unname(coef(f)), se=unname(sqrt(diag(f$var))),
   naive_se=unname(sqrt(diag(if (is.null(f$naive.var)) f$var else f$naive.var))), loglik=f$loglik,
   p=unname(s$coefficients[, ncol(s$coefficients)]), lr=unname(s$logtest[1]), wald=unname(f$wald.test), score=unname(s$sctest[1]))}
f1 <- coxph(Surv(time, event) ~ arm + x1 + x2, data=d, weights=w, cluster=cid); out$weighted_cluster_efron <- g(f1)
f2 <- coxph(Surv(time, event) ~ arm + x1 + x2 + strata(site), data=d, weights=w, ties="breslow", robust=TRUE); out$weighted_strata_breslow <- g(f2)
f3 <- coxph(Surv(time, event) ~ arm + x1 + x2 + strata(site), data=d); out$strata_efron <- g(f3)
f4 <- coxph(Surv(time, event) ~ arm + x1 + x2, data=d, cluster=cid); out$cluster_efron <- g(f4)
z <- cox.zph(f3); out$zph_strata_terms <- list(term=rownames(z$table), chisq=unname(z$table[,1]), df=unname(z$table[,2]))
z <- cox.zph(f1, terms=FALSE); out$zph_weighted_columns <- list(term=rownames(z$table), chisq=unname(z$table[,1]), df=unname(z$table[,2]))
z <- cox.zph(f3, transform="rank"); out$zph_strata_rank <- list(term=rownames(z$table), chisq=unname(z$table[,1]))
z <- cox.zph(f3, transform="identity"); out$zph_strata_identity <- list(term=rownames(z$table), chisq=unname(z$table[,1]))
out$r_version <- R.version.string; out$survival_version <- as.character(packageVersion("survival"))
write(toJSON(out, digits=NA, auto_unbox=TRUE, pretty=TRUE), "cox_extra.json")
