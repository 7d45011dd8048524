# Single R values the tests check one at a time (toy sets, lung/veteran variants).
# Run from tests/reference: Rscript spot_checks.R  (writes spot_checks.json)
# lung.csv / veteran.csv as in strata.R; each entry names the R call that produced it.
library(survival); library(jsonlite)
l <- read.csv("lung.csv")
v <- read.csv("veteran.csv")
lung_ref <- fromJSON("lung.json")
out <- list()

# --- Kaplan-Meier ------------------------------------------------------------------
# records: a day-0 event is kept, as survfit keeps it
f <- survfit(Surv(c(0, 0, 1, 2, 3), c(1, 0, 1, 0, 1)) ~ 1)
out$km_day_zero <- list(call = "summary(survfit(Surv(c(0,0,1,2,3), c(1,0,1,0,1)) ~ 1), times = c(0, 1))",
                        times = c(0, 1), surv = summary(f, times = c(0, 1))$surv)

# lung with clusters cl = row %% 37 and weights wc = 1 + (row %% 5) / 3
i <- seq_len(nrow(l))
lc <- transform(l, cl = i %% 37, wc = 1 + (i %% 5) / 3)
tt <- c(100, 365, 700)
s <- summary(survfit(Surv(time, event) ~ group, lc, weights = wc, cluster = cl,
                     conf.type = "log-log"), times = tt)
u <- summary(survfit(Surv(time, event) ~ group, lc, cluster = cl, conf.type = "log-log"),
             times = tt)
out$km_cluster_robust <- list(
  call = paste("summary(survfit(Surv(time, event) ~ group, weights = wc, cluster = cl,",
               "conf.type = 'log-log'), times = c(100, 365, 700)); rows group 0 then 1"),
  weighted = list(surv = s$surv, std_err = s$std.err, lower = s$lower, upper = s$upper),
  unweighted = list(surv = u$surv, std_err = u$std.err))

q <- quantile(survfit(Surv(time, event) ~ group, l, conf.type = "log-log"))
out$km_quantiles <- list(
  call = "quantile(survfit(Surv(time, event) ~ group, lung, conf.type = 'log-log'))",
  probs = c(0.25, 0.5, 0.75), time = as.vector(t(q$quantile)),
  lower = as.vector(t(q$lower)), upper = as.vector(t(q$upper)))

toy <- data.frame(time = c(1, 2, 2, 3, 4, 5, 5, 6), event = c(1, 1, 0, 1, 0, 1, 1, 1),
                  w = c(1, 2, 1.5, 1, 1, 0.5, 2, 1))
f <- survfit(Surv(time, event) ~ 1, toy, conf.type = "log-log")
sc <- summary(f, censored = TRUE)
sa <- summary(f, times = c(0.5, 2.5, 5, 7), extend = TRUE)
sr <- summary(f, times = c(0, 2, 4.5, 10), extend = TRUE)
fw <- summary(survfit(Surv(time, event) ~ 1, toy, weights = w, conf.type = "log-log"),
              censored = TRUE)
out$km_toy <- list(
  call = paste("survfit(Surv(time, event) ~ 1, conf.type = 'log-log') on time =",
               "c(1,2,2,3,4,5,5,6), event = c(1,1,0,1,0,1,1,1); summary(censored = TRUE),",
               "summary(times, extend = TRUE); weights = c(1,2,1.5,1,1,0.5,2,1)"),
  std_err = sc$std.err, lower = sc$lower,
  at_times = c(0.5, 2.5, 5, 7), at_n_risk = sa$n.risk, at_surv = sa$surv,
  risk_times = c(0, 2, 4.5, 10), risk_n_risk = sr$n.risk,
  risk_cum_events = cumsum(sr$n.event), risk_cum_censored = cumsum(sr$n.censor),
  weighted_n_risk = fw$n.risk, weighted_std_err = fw$std.err)

# quantile.survfit on flat pieces: the midpoint of the flat step
out$quantile_flat <- list(
  call = paste("quantile(survfit(Surv(1:4, rep(1, 4)) ~ 1), 0.5);",
               "quantile(survfit(Surv(c(1, 2, 5), c(1, 0, 0)) ~ 1), 1/3)"),
  median_all_events = unname(quantile(survfit(Surv(1:4, rep(1, 4)) ~ 1), 0.5)$quantile),
  third_last_flat = unname(quantile(survfit(Surv(c(1, 2, 5), c(1, 0, 0)) ~ 1),
                                    1 / 3)$quantile))

# --- log-rank -----------------------------------------------------------------------
v$arm3 <- findInterval(v$karno, c(40.5, 70.5))
sd3 <- survdiff(Surv(time, event) ~ arm3 + strata(prior), v)
out$logrank_three_groups <- list(
  call = "survdiff(Surv(time, event) ~ arm3 + strata(prior), veteran); arm3 = findInterval(karno, c(40.5, 70.5))",
  chisq = sd3$chisq, observed = unname(rowSums(as.matrix(sd3$obs))),
  expected = unname(rowSums(as.matrix(sd3$exp))))

# Xie & Liu (2005) IPTW log-rank, the test RISCA's ipw.log.rank computes (RISCA is not
# installed here): weighted score sum_t [d1w - Y1 dw / Y] and variance
# sum_t d (n - d) / (n (n - 1)) (Y0^2 Q1 + Y1^2 Q0) / Y^2 (Q: squared weights at risk).
iptw_logrank <- function(time, event, g, w) {
  u <- 0; vv <- 0
  for (t in sort(unique(time[event == 1]))) {
    r <- time >= t; dd <- time == t & event == 1
    y0 <- sum(w[r & g == 0]); y1 <- sum(w[r & g == 1]); y <- y0 + y1
    q0 <- sum(w[r & g == 0]^2); q1 <- sum(w[r & g == 1]^2)
    d <- sum(dd); n <- sum(r)
    u <- u + sum(w[dd & g == 1]) - y1 * sum(w[dd]) / y
    if (n > 1) vv <- vv + d * (n - d) / (n * (n - 1)) * (y0^2 * q1 + y1^2 * q0) / y^2
  }
  z <- u / sqrt(vv)
  list(z = z, p = 2 * pnorm(-abs(z)))
}
out$iptw_logrank_lung <- c(list(call = paste(
  "Xie & Liu (2005) IPTW log-rank on lung.csv with lung.json iptw$weights_ate,",
  "written out in R (RISCA ipw.log.rank's test)")),
  iptw_logrank(l$time, l$event, l$group, lung_ref$iptw$weights_ate))

# --- RMST -------------------------------------------------------------------------
rm <- list(rmst = c(), se_cluster = c(), se_robust = c(), se_naive = c())
for (g in 0:1) {
  d <- lc[lc$group == g, ]
  f <- survfit(Surv(time, event) ~ 1, d, weights = wc)
  r <- resid(f, times = 365, type = "sojourn")
  rm$rmst <- c(rm$rmst, unname(summary(f, rmean = 365)$table["rmean"]))
  rm$se_cluster <- c(rm$se_cluster, sqrt(sum(rowsum(d$wc * r, d$cl)^2)))
  rm$se_robust <- c(rm$se_robust, sqrt(sum((d$wc * r)^2)))
  fn <- survfit(Surv(time, event) ~ 1, d, weights = wc, robust = FALSE)
  rm$se_naive <- c(rm$se_naive, unname(summary(fn, rmean = 365)$table["se(rmean)"]))
}
out$rmst_weighted_cluster <- c(list(call = paste(
  "per group: f <- survfit(Surv(time, event) ~ 1, weights = wc); r <- resid(f, times = 365,",
  "type = 'sojourn'); sqrt(sum(rowsum(wc * r, cl)^2)), sqrt(sum((wc * r)^2));",
  "se(rmean) of summary(survfit(..., weights = wc, robust = FALSE), rmean = 365)")), rm)

# --- outcome table: lung with pairs of rows as clusters ----------------------------
lp <- transform(l, id = (i - 1) %/% 2)
cx <- coxph(Surv(pmin(time, 365), event & time <= 365) ~ group, lp, cluster = id)
sx <- summary(cx)
ks <- summary(survfit(Surv(time, event) ~ group, lp, cluster = id, robust = TRUE,
                      conf.type = "log-log"), times = 365)
out$outcome_pairs_clustered <- list(
  call = paste("coxph(Surv(pmin(time, 365), event & time <= 365) ~ group, cluster = id),",
               "id = (row - 1) %/% 2; summary(survfit(Surv(time, event) ~ group, cluster = id,",
               "robust = TRUE, conf.type = 'log-log'), times = 365)"),
  hr = unname(sx$conf.int[1, 1]), lower = unname(sx$conf.int[1, 3]),
  upper = unname(sx$conf.int[1, 4]), p = unname(sx$coefficients[1, "Pr(>|z|)"]),
  km_lower = ks$lower, km_upper = ks$upper)

# --- compare_arms: the ATT row -----------------------------------------------------
ps <- fitted(glm(group ~ age + ph_ecog + ph_karno + wt_loss, binomial, l))
la <- transform(l, w = ifelse(group == 1, 1, ps / (1 - ps)))
sa <- summary(coxph(Surv(time, event) ~ group, la, weights = w, robust = TRUE))
out$iptw_att_cox <- list(
  call = paste("ps <- fitted(glm(group ~ age + ph_ecog + ph_karno + wt_loss, binomial));",
               "w <- ifelse(group == 1, 1, ps / (1 - ps));",
               "coxph(Surv(time, event) ~ group, weights = w, robust = TRUE)"),
  log_hr = unname(sa$coefficients[1, "coef"]), lower = unname(sa$conf.int[1, 3]),
  upper = unname(sa$conf.int[1, 4]), p = unname(sa$coefficients[1, "Pr(>|z|)"]))

# --- exact tests of r x c tables ---------------------------------------------------
out$fisher <- list(
  call = "fisher.test(matrix(...), workspace = 2e8)$p.value",
  rxc_3x4 = fisher.test(matrix(c(1, 3, 1, 5, 0, 1, 2, 6, 1, 0, 2, 7), 3))$p.value,
  rxc_4x2 = fisher.test(matrix(c(1, 23, 1, 8, 5, 33, 5, 8), 4))$p.value,
  two_row_2x6 = fisher.test(matrix(c(60, 70, 50, 40, 40, 35, 30, 25, 2, 3, 1, 0), 2),
                            workspace = 2e8)$p.value,
  two_row_2x4 = fisher.test(matrix(c(500, 480, 300, 320, 150, 140, 3, 9), 2),
                            workspace = 2e8)$p.value)

out$r_version <- R.version.string
out$survival_version <- as.character(packageVersion("survival"))
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"), "spot_checks.json")
