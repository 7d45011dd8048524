# References of test_cox_pertime.py: the Cox log partial likelihood, score vector,
# information and score residuals at a fixed beta (init, iter.max = 0, so nothing is
# fitted) and the variance at the fit, from R survival, on tied data (cox_extra.csv: 45
# event times, 33 of them tied, up to 22 deaths at one time) and on (start, stop] rows
# (heart.csv). Run from tests/reference:  Rscript cox_pertime.R
library(survival); library(jsonlite)
d <- read.csv("cox_extra.csv"); d$arm <- factor(d$arm, levels=c("IVUS","OCT","angio"))
h <- read.csv("heart.csv"); h$w <- 1 + (h$id %% 3) / 2
ctl <- coxph.control(iter.max=0)
at <- function(f, w) {
  dt <- coxph.detail(f)
  # the model-based information (R reports a robust var for non-integer weights)
  v <- if (is.null(f$naive.var)) f$var else f$naive.var
  list(beta=unname(coef(f)), loglik=f$loglik[2], info=unname(solve(v)),
       score=unname(colSums(as.matrix(dt$score))), resid=unname(residuals(f, type="score")),
       wscore=unname(colSums(w * residuals(f, type="score"))))
}
b4 <- c(0.2, -0.3, 0.25, 0.4)
out <- list()
f <- suppressWarnings(coxph(Surv(time, event) ~ arm + x1 + x2, data=d, init=b4, control=ctl))
out$efron <- at(f, rep(1, nrow(d)))
f <- suppressWarnings(coxph(Surv(time, event) ~ arm + x1 + x2 + strata(site), data=d, weights=w,
                            init=b4, control=ctl))
out$efron_weighted_strata <- at(f, d$w)
f <- suppressWarnings(coxph(Surv(time, event) ~ arm + x1 + x2 + strata(site), data=d, weights=w,
                            ties="breslow", init=b4, control=ctl))
out$breslow_weighted_strata <- at(f, d$w)
f <- suppressWarnings(coxph(Surv(start, stop, event) ~ age + year + transplant + strata(surgery),
                            data=h, weights=w, init=c(0.02, -0.1, 0.1), control=ctl))
out$counting_efron <- at(f, h$w)
f <- coxph(Surv(time, event) ~ arm + x1 + x2, data=d)
out$efron_fit <- list(beta=unname(coef(f)), var=unname(f$var), loglik=f$loglik[2])
out$r_version <- R.version.string; out$survival_version <- as.character(packageVersion("survival"))
write(toJSON(out, digits=NA, auto_unbox=TRUE, pretty=TRUE), "cox_pertime.json")
