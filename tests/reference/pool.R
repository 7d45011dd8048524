# Reference for mo.pool: mice 3.15 pool() (Rubin's rules, Barnard-Rubin df) on m = 5
# completed data sets of survival::lung, imputed once here and saved as
# pool_completed_{1..5}.csv so that the tests need no random draw to match.
# Run from tests/reference: Rscript pool.R
suppressMessages({library(survival); library(mice); library(jsonlite); library(sandwich)})
d <- with(lung, data.frame(time = time, event = status - 1, age = age,
                           female = as.integer(sex == 2), ph_ecog = ph.ecog,
                           wt_loss = wt.loss))
set.seed(20)
d$ph_ecog[sample(nrow(d), 40)] <- NA     # more missing ECOG than lung has (1 value)
d$age[sample(nrow(d), 25)] <- NA
imp <- mice(d, m = 5, seed = 1, printFlag = FALSE)
for (i in 1:5) write.csv(complete(imp, i), sprintf("pool_completed_%d.csv", i), row.names = FALSE)

pooled <- function(p) {
  s <- summary(p, conf.int = TRUE); x <- p$pooled
  list(term = as.character(x$term), estimate = x$estimate, se = s$std.error, df = x$df,
       p = s$p.value, lower = s[["2.5 %"]], upper = s[["97.5 %"]], riv = x$riv,
       lambda = x$lambda, fmi = x$fmi, ubar = x$ubar, b = x$b, t = x$t,
       dfcom = x$dfcom[1], m = p$m)
}
scalar <- function(Q, U, n = Inf, k = 1) {   # pool.scalar: one estimate, CI on t(df)
  s <- pool.scalar(Q, U, n = n, k = k); q <- qt(0.975, s$df)
  list(estimate = s$qbar, se = sqrt(s$t), df = s$df, riv = s$r, fmi = s$fmi,
       ubar = s$ubar, b = s$b, t = s$t, lower = s$qbar - q * sqrt(s$t),
       upper = s$qbar + q * sqrt(s$t), p = 2 * pt(abs(s$qbar) / sqrt(s$t), s$df,
                                                   lower.tail = FALSE), Q = Q, U = U)
}
out <- list()
out$missing_per_column <- as.list(colSums(is.na(d)))
out$cox <- pooled(pool(with(imp, coxph(Surv(time, event) ~ age + female + ph_ecog + wt_loss))))
out$cox_robust <- pooled(pool(with(imp, coxph(Surv(time, event) ~ age + female + ph_ecog,
                                               robust = TRUE))))
out$cox_dfcom50 <- pooled(pool(with(imp, coxph(Surv(time, event) ~ age + female)), dfcom = 50))
# Breslow ties: the Cox model a Fine-Gray fit without competing events reduces to
out$cox_breslow <- pooled(pool(with(imp, coxph(Surv(time, event) ~ age + female,
                                               ties = "breslow"))))
out$lm <- pooled(pool(with(imp, lm(wt_loss ~ age + female + ph_ecog))))
# the crude Cox row of compare_arms, arms ECOG >= 1 vs ECOG 0 (imputed, so they vary)
out$crude_cox <- pooled(pool(with(imp, coxph(Surv(time, event) ~ I(ph_ecog >= 1)))))
comp <- lapply(1:5, function(i) transform(complete(imp, i), ecog1 = as.integer(ph_ecog >= 1)))
# compare_outcome's covariate-adjusted row: OLS with the HC0 sandwich SE, dfcom = n - 4
ols <- lapply(comp, function(x) { f <- lm(wt_loss ~ female + age + ph_ecog, data = x)
  c(coef(f)[["female"]], vcovHC(f, type = "HC0")["female", "female"]) })
out$ols_hc0 <- scalar(sapply(ols, `[`, 1), sapply(ols, `[`, 2), n = nrow(d), k = 4)
# Kaplan-Meier survival at 365 days per ECOG group on the cloglog scale:
# g = log(-log S), var(g) = se(S)^2 / (S log S)^2; back-transformed S = exp(-exp(g))
km <- lapply(comp, function(x) summary(survfit(Surv(time, event) ~ ecog1, data = x),
                                       times = 365))
out$km <- lapply(1:2, function(j) {
  S <- sapply(km, function(s) s$surv[j]); se <- sapply(km, function(s) s$std.err[j])
  r <- scalar(log(-log(S)), (se / (S * log(S)))^2)
  c(r, list(group = j - 1, surv = exp(-exp(r$estimate)), surv_lower = exp(-exp(r$upper)),
            surv_upper = exp(-exp(r$lower))))
})
# RMST to 365 days: ECOG >= 1 minus ECOG 0, SEs of survfit's rmean
rm <- lapply(comp, function(x) summary(survfit(Surv(time, event) ~ ecog1, data = x),
                                       rmean = 365)$table)
out$rmst_difference <- scalar(sapply(rm, function(t) t[2, "rmean"] - t[1, "rmean"]),
                              sapply(rm, function(t) t[1, "se(rmean)"]^2 + t[2, "se(rmean)"]^2))
out$r_version <- R.version.string
out$mice_version <- as.character(packageVersion("mice"))
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "pool.json")
