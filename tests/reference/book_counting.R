# Counting-process (start, stop] Cox models of Therneau & Grambsch's appendix: data set 2
# of the survival package's tests/book3.R (Breslow) and tests/book4.R (Efron), its
# stratified triple (test2b) and, added here, robust (cluster) and weighted fits; data
# sets 1 (book1/2.R) and the weighted one of book5/6.R as (0, time] rows.
# Run from tests/reference:  Rscript book_counting.R   (writes book_counting.json)
library(survival); library(jsonlite)
out <- list(r_version = R.version.string,
            survival_version = as.character(packageVersion("survival")))
test2 <- data.frame(start = c(1, 2, 5, 2, 1, 7, 3, 4, 8, 8),
                    stop  = c(2, 3, 6, 7, 8, 9, 9, 9, 14, 17),
                    event = c(1, 1, 1, 1, 1, 1, 1, 0, 0, 0),
                    x     = c(1, 0, 0, 1, 0, 1, 1, 1, 0, 0),
                    # patients: rows of one id do not overlap (chains of (start, stop])
                    id    = c(1, 1, 1, 2, 3, 2, 4, 5, 3, 6),
                    wt    = c(1, 2, 1, 3, 2, 1, 2, 1, 3, 2))
test2b <- rbind(test2, test2, test2)
test2b$group <- rep(1:3, each = nrow(test2))
test2b$start <- test2b$start + test2b$group   # offsets: wrong risk sets if strata leak
test2b$stop  <- test2b$stop  + test2b$group
# the appendix's closed forms (book3.R, book4.R): log partial likelihood and information
bres <- function(beta) { r <- exp(beta)
  list(loglik = 4*beta - log(r+1) - log(r+2) - 3*log(3*r+2) - 2*log(3*r+1),
       imat = r/(r+1)^2 + 2*r/(r+2)^2 + 6*r/(3*r+2)^2 + 3*r/(3*r+1)^2 + 3*r/(3*r+1)^2 +
              12*r/(3*r+2)^2) }
efr <- function(beta) { r <- exp(beta)
  list(loglik = 4*beta - (log(r+1) + log(r+2) + 2*log(3*r+2) + 2*log(3*r+1) + log(2*r+2)),
       imat = r*(1/(r+1)^2 + 2/(r+2)^2 + 6/(3*r+2)^2 + 6/(3*r+1)^2 + 6/(3*r+2)^2 +
                 4/(2*r+2)^2)) }
g <- function(f, byhand = NULL) {
  r <- list(coef = unname(coef(f)), var = unname(as.vector(f$var)), loglik = f$loglik,
            naive_var = if (is.null(f$naive.var)) NULL else unname(as.vector(f$naive.var)),
            score = unname(f$score), wald = unname(f$wald.test), n = f$n, nevent = f$nevent,
            iter = f$iter)
  if (!is.null(byhand)) {
    h <- byhand(coef(f)); h0 <- byhand(0)
    r$byhand <- list(loglik = c(h0$loglik, h$loglik), var = 1 / h$imat)
  }
  r
}
out$breslow <- g(coxph(Surv(start, stop, event) ~ x, test2, ties = "breslow"), bres)
out$efron <- g(coxph(Surv(start, stop, event) ~ x, test2), efr)
out$breslow_strata <- g(coxph(Surv(start, stop, event) ~ x + strata(group), test2b,
                              ties = "breslow"))
out$efron_strata <- g(coxph(Surv(start, stop, event) ~ x + strata(group), test2b))
# robust variance: each row its own cluster (robust = TRUE) and patients as clusters
# (R asks for a cluster with (start, stop] rows: `row` makes each row one)
test2$row <- seq_len(nrow(test2))
out$breslow_robust <- g(coxph(Surv(start, stop, event) ~ x, test2, ties = "breslow",
                              cluster = row))
out$efron_robust <- g(coxph(Surv(start, stop, event) ~ x, test2, cluster = row))
out$breslow_cluster <- g(coxph(Surv(start, stop, event) ~ x, test2, ties = "breslow",
                               cluster = id))
out$efron_cluster <- g(coxph(Surv(start, stop, event) ~ x, test2, cluster = id))
# case weights (book5/book6 weight the appendix's data set 1; here data set 2)
out$breslow_weighted <- g(coxph(Surv(start, stop, event) ~ x, test2, weights = wt,
                                ties = "breslow", cluster = id))
out$efron_weighted <- g(coxph(Surv(start, stop, event) ~ x, test2, weights = wt,
                              cluster = id))
out$data <- test2
out$efron_strata_cluster <- g(coxph(Surv(start, stop, event) ~ x + strata(group), test2b,
                                    cluster = id))
# Data set 1 (book1.R, book2.R) and its weighted variant (book5.R, book6.R) written as
# (0, time] rows: ties of deaths and of a death with a censoring, the counting-process path
test1 <- data.frame(time = c(9, 3, 1, 1, 6, 6, 8), status = c(1, NA, 1, 0, 1, 1, 0),
                    x = c(0, 2, 1, 1, 1, 0, 0))
test1 <- test1[!is.na(test1$status), ]   # book1.R's NA row, left out as R's na.action does
test1$start <- 0
testw1 <- data.frame(time = c(1, 1, 2, 2, 2, 2, 3, 4, 5), status = c(1, 0, 1, 1, 1, 0, 0, 1, 0),
                     x = c(2, 0, 1, 1, 0, 1, 0, 1, 0), wt = c(1, 2, 3, 4, 3, 2, 1, 2, 1),
                     id = 1:9, start = 0)
out$data1 <- test1; out$dataw1 <- testw1
out$test1_breslow <- g(coxph(Surv(start, time, status) ~ x, test1, ties = "breslow"))
out$test1_efron <- g(coxph(Surv(start, time, status) ~ x, test1))
out$testw1_breslow <- g(coxph(Surv(start, time, status) ~ x, testw1, weights = wt,
                              ties = "breslow", cluster = id))
out$testw1_efron <- g(coxph(Surv(start, time, status) ~ x, testw1, weights = wt, cluster = id))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "book_counting.json")
