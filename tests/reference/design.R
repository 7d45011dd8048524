# R's model matrices (column names and values) and a Cox fit with interactions and a
# multi-level factor, for the package's one design-matrix builder and formula interface.
# Run from tests/reference: Rscript design.R  (writes design.json)
library(survival); library(jsonlite)
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
out$r_version <- R.version.string; out$survival_version <- as.character(packageVersion("survival"))
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "design.json")
