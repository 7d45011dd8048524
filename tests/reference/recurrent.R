# Reference numbers for mean_frequency (tests/test_recurrent.py).
# 1. R's survival::cgd (recurrent infections, (tstart, tstop] rows per id): survfit's
#    cumulative hazard with its robust (Lawless-Nadeau) std.chaz per treatment, unweighted
#    and with case weights; the Andersen-Gill / LWYY Cox model with a robust variance.
# 2. recurrent_terminal.csv (simulated here): the Ghosh-Lin mean frequency with death as a
#    terminal event, from a plain-R transcription of Ghosh & Lin (2000, Biometrics 56:554),
#    mu(t) = sum_{t_k <= t} S(t_k-) dN(t_k) / Y(t_k), variance sum_i psi_i(t)^2 with
#    psi_i(t) = int S/Y dM_i - mu(t) int dM^D_i / Y + int mu(u) dM^D_i(u) / Y(u).
library(survival); library(jsonlite)
out <- list(r_version = R.version.string, survival_version = as.character(packageVersion("survival")))
d <- cgd[, c("id", "treat", "tstart", "tstop", "status")]
d$treat <- as.character(d$treat)
d$w <- 1 + (d$id %% 3) / 2
write.csv(d, "recurrent_cgd.csv", row.names = FALSE)
curves <- function(f) {
  s <- rep(sub("treat=", "", names(f$strata)), f$strata)
  list(group = s, time = f$time, n_risk = f$n.risk, n_event = f$n.event,
       cumhaz = f$cumhaz, std_chaz = f$std.chaz)
}
out$cgd <- curves(survfit(Surv(tstart, tstop, status) ~ treat, data = d, id = id))
out$cgd_weighted <- curves(survfit(Surv(tstart, tstop, status) ~ treat, data = d, id = id,
                                   weights = w))
ag <- coxph(Surv(tstart, tstop, status) ~ treat + cluster(id), data = d)
out$cgd_ag <- list(coef = unname(coef(ag)), robust_se = unname(sqrt(diag(ag$var))),
                   naive_se = unname(sqrt(diag(ag$naive.var))))

# Ghosh-Lin: a simulated data set with recurrent events and a terminal death.
set.seed(11)
n <- 80
rows <- list()
for (i in 1:n) {
  arm <- if (i %% 2) "a" else "b"
  death <- ceiling(rexp(1, if (arm == "a") 1/400 else 1/250))
  cens <- ceiling(runif(1, 100, 700))
  end <- min(death, cens); t0 <- 0
  repeat {
    gap <- ceiling(rexp(1, if (arm == "a") 1/150 else 1/90))
    if (t0 + gap >= end) break
    rows[[length(rows) + 1]] <- data.frame(id = i, arm = arm, start = t0, stop = t0 + gap,
                                            event = 1, death = 0)
    t0 <- t0 + gap
  }
  rows[[length(rows) + 1]] <- data.frame(id = i, arm = arm, start = t0, stop = end, event = 0,
                                          death = as.integer(death <= cens))
}
g <- do.call(rbind, rows)
g$w <- 0.5 + (g$id %% 4) / 4
write.csv(g, "recurrent_terminal.csv", row.names = FALSE)

ghosh_lin <- function(x, wt) {
  tk <- sort(unique(x$stop))
  Y <- outer(x$start, tk, "<") & outer(x$stop, tk, ">=")          # rows x times at risk
  dN <- outer(x$stop, tk, "==") * x$event
  dD <- outer(x$stop, tk, "==") * x$death
  Yw <- colSums(Y * wt); dNw <- colSums(dN * wt); dDw <- colSums(dD * wt)
  S <- cumprod(1 - dDw / Yw); Sm <- c(1, head(S, -1))
  mu <- cumsum(Sm * dNw / Yw)
  dM <- (dN - sweep(Y, 2, dNw / Yw, "*")) * wt                    # weighted martingale increments
  dMD <- (dD - sweep(Y, 2, dDw / Yw, "*")) * wt
  A <- t(apply(sweep(dM, 2, Sm / Yw, "*"), 1, cumsum))
  B <- t(apply(sweep(dMD, 2, 1 / Yw, "*"), 1, cumsum))
  C <- t(apply(sweep(dMD, 2, mu / Yw, "*"), 1, cumsum))
  psi <- A - sweep(B, 2, mu, "*") + C
  psi_id <- rowsum(psi, x$id)                                      # clustered on patient
  list(time = tk, mean = mu, std_err = sqrt(colSums(psi_id^2)), n_risk = Yw, surv = S)
}
gl <- function(wcol) lapply(split(g, g$arm), function(x) ghosh_lin(x, if (wcol) x$w else rep(1, nrow(x))))
out$ghosh_lin <- gl(FALSE)
out$ghosh_lin_weighted <- gl(TRUE)
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "recurrent.json")
