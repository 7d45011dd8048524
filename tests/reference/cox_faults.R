# Reference values for tests/test_cox_faults.py: run from tests/reference/ with
#   Rscript cox_faults.R        (writes cox_faults.json)
library(survival); library(jsonlite)
out <- list()
catch <- function(expr) {  # the value and R's warnings
  msgs <- character(0)
  val <- withCallingHandlers(expr, warning = function(w) {
    msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning")})
  list(value = val, warnings = msgs)
}
g <- function(f) {
  s <- summary(f)
  list(term = names(coef(f)), coef = unname(coef(f)), se = unname(sqrt(diag(f$var))),
       naive_se = unname(sqrt(diag(if (is.null(f$naive.var)) f$var else f$naive.var))),
       loglik = f$loglik, iter = f$iter, lr = unname(s$logtest[1]), lr_df = unname(s$logtest[2]),
       wald = unname(f$wald.test), score = unname(s$sctest[1]))
}

# 1. monotone likelihood with events in both arms: every OCT event occurs after the last
#    IVUS subject left follow-up, so each risk set at an OCT event holds OCT subjects only
m <- read.csv("cox_faults_monotone.csv"); m$arm <- factor(m$arm, levels = c("IVUS", "OCT"))
r <- catch(coxph(Surv(time, event) ~ arm, data = m))
out$monotone <- c(g(r$value), list(warnings = r$warnings,
  events = as.list(tapply(m$event, m$arm, sum)),
  last_ivus_time = max(m$time[m$arm == "IVUS"]),
  first_oct_event = min(m$time[m$arm == "OCT" & m$event == 1])))

# 2. aliased covariates on lung: an exact linear combination, a copy, and a covariate
#    constant within strata; R reports NA for the aliased coefficient
d <- read.csv("lung.csv")
d$combo <- d$age + 2 * d$ph_ecog      # = age + 2 ph_ecog
d$age_copy <- d$age
d$ecog3 <- 3 * d$ph_ecog + 1          # constant within strata(ph_ecog)
out$aliased_combo <- g(coxph(Surv(time, event) ~ group + age + ph_ecog + combo + ph_karno,
                             data = d))
out$aliased_combo_reduced <- g(coxph(Surv(time, event) ~ group + age + ph_ecog + ph_karno,
                                     data = d))
out$aliased_copy <- g(coxph(Surv(time, event) ~ group + age + age_copy, data = d))
out$aliased_strata <- g(coxph(Surv(time, event) ~ group + age + ecog3 + strata(ph_ecog),
                              data = d))
d$w <- 1 + (seq_len(nrow(d)) %% 3) / 2
out$aliased_weighted <- g(coxph(Surv(time, event) ~ group + age + ph_ecog + combo, data = d,
                                weights = w))

# 3. one weight of 1e5 (row 26): the weighted likelihood has a finite maximum; R's default
#    stops after 2 iterations (relative loglik change 1e-9 of a loglik of -1.15e6) and
#    warns "Loglik converged before variable 1"; iterated to eps = 1e-12 it reaches it
d$w <- 1; d$w[26] <- 1e5
r <- catch(coxph(Surv(time, event) ~ group, data = d, weights = w, robust = TRUE))
out$big_weight_default <- c(g(r$value), list(warnings = r$warnings))
r <- catch(coxph(Surv(time, event) ~ group, data = d, weights = w, robust = TRUE,
                 control = coxph.control(eps = 1e-12, toler.chol = 1e-14, iter.max = 100)))
out$big_weight <- g(r$value)
r <- catch(coxph(Surv(time, event) ~ group + age, data = d, weights = w, robust = TRUE,
                 control = coxph.control(eps = 1e-12, toler.chol = 1e-14, iter.max = 100)))
out$big_weight_age <- g(r$value)

out$r_version <- R.version.string; out$survival_version <- as.character(packageVersion("survival"))
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"), "cox_faults.json")
