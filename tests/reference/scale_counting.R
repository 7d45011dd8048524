# A counting-process Cox model with a formula (an interaction and a factor) and a
# cluster, for the Dask fit of (start, stop] rows. Run from tests/reference:
#   Rscript scale_counting.R   (reads heart.csv, written by counting.R; writes scale_counting.json)
library(survival); library(jsonlite)
h <- read.csv("heart.csv")
g <- function(f) list(term = names(coef(f)), coef = unname(coef(f)),
                      se = unname(sqrt(diag(f$var))),
                      naive_se = unname(sqrt(diag(if (is.null(f$naive.var)) f$var else f$naive.var))),
                      loglik = f$loglik, n = f$n, nevent = f$nevent)
out <- list()
out$formula_cluster <- g(coxph(Surv(start, stop, event) ~ transplant * age + factor(surgery), h,
                               cluster = id))
h$surgery_ref1 <- relevel(factor(h$surgery), ref = "1")
out$reference_breslow <- g(coxph(Surv(start, stop, event) ~ surgery_ref1 + age, h, ties = "breslow"))
out$r_version <- R.version.string; out$survival_version <- as.character(packageVersion("survival"))
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "scale_counting.json")
