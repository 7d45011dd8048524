# Reference numbers for tests/test_win_ratio.py: Pocock's unmatched win ratio by brute force
# over every pair, in plain R (no package), with the U-statistic variance written as
# Bebu & Lachin (2016, Biostatistics 17:178) define it and the Finkelstein-Schoenfeld test.
# Run from the repository root:  Rscript tests/reference/win_ratio.R
library(jsonlite)

set.seed(20121)

simulate <- function(n, hazard) {
  # integer days, so that equal times (ties) happen; death ends follow-up
  fu <- sample(60:400, n, replace = TRUE)
  death <- round(rexp(n, hazard[1]))
  time_death <- pmin(death, fu)
  ev_death <- as.integer(death <= fu)
  end <- time_death
  mk <- function(h) {
    t <- round(rexp(n, h))
    list(time = pmin(t, end), event = as.integer(t <= end))
  }
  mi <- mk(hazard[2]); hosp <- mk(hazard[3])
  data.frame(time_death = time_death, death = ev_death, time_mi = mi$time, mi = mi$event,
             time_hosp = hosp$time, hosp = hosp$event, follow_up = end)
}

levels <- list(c("time_death", "death"), c("time_mi", "mi"), c("time_hosp", "hosp"))

# +1: the treated patient i wins, -1: loses, 0: tie; level that decided it (0 for a tie)
compare <- function(x, y, horizon) {
  s <- min(x$follow_up, y$follow_up, horizon)
  for (k in seq_along(levels)) {
    tc <- levels[[k]][1]; ec <- levels[[k]][2]
    ex <- x[[ec]] == 1 && x[[tc]] <= s
    ey <- y[[ec]] == 1 && y[[tc]] <= s
    if (ex && ey) {
      if (x[[tc]] < y[[tc]]) return(c(-1, k))
      if (y[[tc]] < x[[tc]]) return(c(1, k))
    } else if (ex) {
      return(c(-1, k))
    } else if (ey) {
      return(c(1, k))
    }
  }
  c(0, 0)
}

pair_matrix <- function(trt, ctl, horizon) {
  out <- array(0, c(nrow(trt), nrow(ctl), 2))
  for (i in seq_len(nrow(trt))) for (j in seq_len(nrow(ctl))) {
    out[i, j, ] <- compare(trt[i, ], ctl[j, ], horizon)
  }
  out
}

# sum over j != k of a_j a_k, written out
offdiag <- function(a) { m <- outer(a, a); sum(m[row(m) != col(m)]) }

# Bebu & Lachin (2016): p = mean of h_ij; Var(p) = (phi1 - p^2)/n1 + (phi0 - p^2)/n0,
# phi1 = P(h_ij h_ik = 1), j != k, phi0 = P(h_ij h_kj = 1), i != k.  With case weights:
# pair weight w_i w_j, 1/n replaced by sum(w^2)/sum(w)^2 (unit weights: the same numbers).
bl_moments <- function(W, L, w1, w0) {
  a1 <- sum(w1); a0 <- sum(w0); b1 <- sum(w1^2); b0 <- sum(w0^2)
  pw <- sum(outer(w1, w0) * W) / (a1 * a0)
  pl <- sum(outer(w1, w0) * L) / (a1 * a0)
  d1 <- a1 * (a0^2 - b0); d0 <- a0 * (a1^2 - b1)
  phi <- function(A, B) {
    r <- 0; for (i in seq_along(w1)) r <- r + w1[i] * offdiag_ab(w0 * A[i, ], w0 * B[i, ])
    r / d1
  }
  phic <- function(A, B) {
    r <- 0; for (j in seq_along(w0)) r <- r + w0[j] * offdiag_ab(w1 * A[, j], w1 * B[, j])
    r / d0
  }
  f1 <- b1 / a1^2; f0 <- b0 / a0^2
  c(pw = pw, pl = pl,
    var_w = f1 * (phi(W, W) - pw^2) + f0 * (phic(W, W) - pw^2),
    var_l = f1 * (phi(L, L) - pl^2) + f0 * (phic(L, L) - pl^2),
    cov = f1 * (phi(W, L) - pw * pl) + f0 * (phic(W, L) - pw * pl))
}
offdiag_ab <- function(a, b) { m <- outer(a, b); sum(m[row(m) != col(m)]) }

fs_parts <- function(d, arm, horizon) {
  n <- nrow(d); u <- numeric(n)
  for (i in seq_len(n)) for (k in seq_len(n)) if (i != k) u[i] <- u[i] + compare(d[i, ], d[k, ], horizon)[1]
  n1 <- sum(arm); n0 <- n - n1
  c(t = sum(u[arm == 1]), v = n1 * n0 * sum(u^2) / (n * (n - 1)))
}

analyse <- function(d, horizon = Inf, strata = NULL, weights = NULL) {
  if (is.null(strata)) strata <- rep(1, nrow(d))
  if (is.null(weights)) weights <- rep(1, nrow(d))
  lev <- matrix(0, length(levels), 2); mom <- NULL; v <- NULL; fs <- c(t = 0, v = 0)
  for (s in sort(unique(strata))) {
    trt <- d[d$arm == 1 & strata == s, ]; ctl <- d[d$arm == 0 & strata == s, ]
    w1 <- weights[d$arm == 1 & strata == s]; w0 <- weights[d$arm == 0 & strata == s]
    pm <- pair_matrix(trt, ctl, horizon)
    W <- (pm[, , 1] == 1) * 1; L <- (pm[, , 1] == -1) * 1
    pw8 <- outer(w1, w0)
    for (k in seq_along(levels)) {
      lev[k, 1] <- lev[k, 1] + sum(pw8 * (pm[, , 1] == 1 & pm[, , 2] == k))
      lev[k, 2] <- lev[k, 2] + sum(pw8 * (pm[, , 1] == -1 & pm[, , 2] == k))
    }
    mom <- rbind(mom, bl_moments(W, L, w1, w0))
    v <- c(v, sum(w1) * sum(w0) / (sum(w1) + sum(w0)))
    ds <- d[strata == s, ]
    fs <- fs + fs_parts(ds, ds$arm, horizon)
  }
  pw <- sum(v * mom[, "pw"]) / sum(v); pl <- sum(v * mom[, "pl"]) / sum(v)
  vw <- sum(v^2 * mom[, "var_w"]) / sum(v)^2; vl <- sum(v^2 * mom[, "var_l"]) / sum(v)^2
  cv <- sum(v^2 * mom[, "cov"]) / sum(v)^2
  se <- sqrt(vw / pw^2 + vl / pl^2 - 2 * cv / (pw * pl))
  tie <- 1 - pw - pl
  list(wins = lev[, 1], losses = lev[, 2], p_win = pw, p_loss = pl, var_w = vw,
       var_l = vl, cov = cv, win_ratio = pw / pl, se_log_wr = se,
       p = 2 * pnorm(-abs(log(pw / pl) / se)),
       win_odds = (pw + tie / 2) / (pl + tie / 2), net_benefit = pw - pl,
       fs_statistic = unname(fs["t"] / sqrt(fs["v"])))
}

d <- rbind(cbind(simulate(40, c(1 / 900, 1 / 500, 1 / 250)), arm = 1),
           cbind(simulate(35, c(1 / 600, 1 / 400, 1 / 200)), arm = 0))
d$stratum <- rep(c("a", "b"), length.out = nrow(d))
d$w <- round(runif(nrow(d), 0.5, 3), 3)

out <- list(
  data = d,
  plain = analyse(d),
  horizon_200 = analyse(d, horizon = 200),
  stratified = analyse(d, strata = d$stratum),
  weighted = analyse(d, weights = d$w)
)
out$weighted$fs_statistic <- NULL  # no FS test with weights
write_json(out, "tests/reference/win_ratio.json", digits = NA, auto_unbox = TRUE,
           pretty = TRUE)
