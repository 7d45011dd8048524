# R's model matrices (column names and values) and a Cox fit with interactions and a
# multi-level factor, for the package's one design-matrix builder and formula interface.
# Run from tests/reference: Rscript design.R  (writes design.json)
library(survival); library(jsonlite)  # and cmprsk
d <- read.csv("lung.csv")
d <- d[complete.cases(d[, c("time", "event", "group", "age", "ph_ecog", "wt_loss")]), ]
d$arm <- factor(ifelse(d$group == 1, "OCT", "IVUS"))
d$ecog <- factor(d$ph_ecog)
d$ecog_ref1 <- relevel(d$ecog, ref = "1")
d$wl <- as.integer(d$wt_loss > 10)   # a numeric 0/1 covariate stays numeric, as in R
out <- list(n = nrow(d))
mm <- function(f) {
  m <- model.matrix(f, d); m <- m[, colnames(m) != "(Intercept)", drop = FALSE]
  list(names = colnames(m), colsum = unname(colSums(m)), crossprod = unname(sum(m %*% seq_len(ncol(m)))))
}
out$mm_interaction <- mm(~ arm * wl + age)
out$mm_factor_numeric <- mm(~ ecog + arm:age)
out$mm_reference <- mm(~ ecog_ref1)
out$mm_factor_factor <- mm(~ arm * ecog)
out$mm_three_way_order <- mm(~ age:wl + arm + wl)
fit <- coxph(Surv(time, event) ~ arm * wl + age + ecog, data = d)
out$cox <- list(term = names(coef(fit)), coef = unname(coef(fit)), se = unname(sqrt(diag(fit$var))),
                loglik = fit$loglik)
i <- grep("^ecog", names(coef(fit))); b <- coef(fit)[i]; V <- fit$var[i, i]
out$wald_ecog <- list(chisq = as.numeric(t(b) %*% solve(V) %*% b), df = length(i),
                      p = pchisq(as.numeric(t(b) %*% solve(V) %*% b), length(i), lower.tail = FALSE))
fit2 <- coxph(Surv(time, event) ~ ecog_ref1 + age, data = d)
out$cox_reference <- list(term = names(coef(fit2)), coef = unname(coef(fit2)),
                          se = unname(sqrt(diag(fit2$var))))
# per-term joint Wald tests (car::Anova type III, Wald), model-based and robust
term_wald <- function(b, V, i) {
  chisq <- as.numeric(t(b[i]) %*% solve(V[i, i, drop = FALSE]) %*% b[i])
  c(chisq = chisq, df = length(i), p = pchisq(chisq, length(i), lower.tail = FALSE))
}
asgn <- attr(model.matrix(fit), "assign"); labs <- attr(terms(fit), "term.labels")
out$anova <- lapply(setNames(seq_along(labs), labs),
                    function(k) as.list(term_wald(coef(fit), fit$var, which(asgn == k))))
fitr <- coxph(Surv(time, event) ~ arm * wl + age + ecog, data = d, robust = TRUE)
out$cox_robust <- list(se = unname(sqrt(diag(fitr$var))),
                       wald_ecog = as.list(term_wald(coef(fitr), fitr$var, grep("^ecog", names(coef(fitr))))))
# Fine-Gray with a formula: crr on R's model matrix of ~ group * age + anemia (mgus2;
# anemia from hgb, reference "none")
library(cmprsk)
m <- read.csv("mgus2.csv")
m$anemia <- relevel(factor(ifelse(m$hgb < 10, "severe", ifelse(m$hgb < 12, "mild", "none"))), ref = "none")
X <- model.matrix(~ group * age + anemia, m)[, -1]
fg <- crr(m$time, m$status, X, failcode = 1, cencode = 0)
i <- grep("^anemia", colnames(X))
out$fine_gray <- list(term = colnames(X), coef = unname(fg$coef), se = unname(sqrt(diag(fg$var))),
                      wald_anemia = as.list(term_wald(fg$coef, fg$var, i)),
                      cmprsk_version = as.character(packageVersion("cmprsk")))
out$r_version <- R.version.string; out$survival_version <- as.character(packageVersion("survival"))
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "design.json")
