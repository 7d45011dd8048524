# Gray's test where the pooled cumulative incidence F(t-) reaches 1 (cmprsk's crstm).
# Run from tests/reference: Rscript gray_f_one.R  (writes gray_f_one.json)
# Needs cmprsk >= 2.2-12: from that version crstm adds a dF / (1 - F(t-)) to Gray's c
# only where a != 0, so a time with F(t-) = 1 and one group left at risk no longer
# makes the variance 0/0 = NaN (2.2-11 gives NaN there and cuminc stops with an error).
# Point R_LIBS at a library holding cmprsk 2.2-12 if the system one is older.
library(cmprsk); library(jsonlite)
stopifnot(packageVersion("cmprsk") >= "2.2.12")
# crstm as cuminc calls it: rows sorted by time, groups and strata coded 1, 2, ...
crstm <- function(time, mark, group, strata, ng) {
  o <- order(time); n <- length(time)
  st <- as.integer(factor(strata[o]))
  z <- .Fortran("crstm", as.double(time[o]), as.integer(mark[o]), as.integer(group[o] + 1),
                st, as.integer(n), as.double(0), as.integer(max(st)), as.integer(ng),
                s = double(ng - 1), vs = matrix(0, ng - 1, ng - 1), double(n), integer(n),
                integer(n), double(ng * (ng - 1) / 2), double(ng - 1),
                double(ng * (ng - 1) / 2), double(ng * (4 + 3 * ng)), integer(4 * ng),
                PACKAGE = "cmprsk")
  list(s = z$s, v = unname(z$vs))
}
tests <- function(time, status, group, strata) {
  r <- try(cuminc(time, status, group, strata = strata), silent = TRUE)
  if (inherits(r, "try-error")) return(list(error = TRUE))
  list(error = FALSE, stat = unname(r$Tests[, "stat"]), p = unname(r$Tests[, "pv"]),
       cause = rownames(r$Tests))
}
one <- function(time, mark, group, strata, ng) {
  out <- list(time = time, mark = mark, group = group, strata = strata, ng = ng,
              all = crstm(time, mark, group, strata, ng), cuminc = tests(time, mark, group, strata))
  out$per_stratum <- lapply(sort(unique(strata)), function(k) {
    i <- strata == k
    c(list(stratum = k), crstm(time[i], mark[i], group[i], strata[i], ng))
  })
  out
}
out <- list(description = paste(
  "cmprsk", as.character(packageVersion("cmprsk")), "crstm (rho = 0) score s and",
  "variance v, all strata and each stratum alone (NaN written as null), and",
  "cuminc(time, mark, group, strata=)$Tests (error = TRUE where cuminc stops).",
  "mark: 0 censored, 1 the cause, 2 the other cause."))
# F(t-) = 1 in stratum 3 with only group 1 left at risk: a = 0, variance 1/3
out$one_group_left <- one(
  time = c(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1.5, 3), mark = c(0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2),
  group = c(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1), strata = c(0, 0, 0, 1, 1, 1, 1, 1, 3, 3, 3, 3),
  ng = 2)
# F(t-) = 1 in stratum 0 after arm 1 has failed, arm 0 alone at risk: defined
out$arm_failed <- one(
  time = c(904, 1537, 1042, 434, 5, 6, 7, 8), mark = c(1, 2, 1, 1, 1, 0, 2, 1),
  group = c(1, 0, 0, 1, 0, 1, 0, 1), strata = c(0, 0, 0, 0, 1, 1, 1, 1), ng = 2)
# F(t-) = 1 in stratum 0 with groups 1 and 2 still at risk (a != 0): undefined
out$undefined <- one(
  time = c(2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 7, 8), mark = c(rep(1, 10), 1, 0, 2, 1),
  group = c(0, 1, 0, 0, 0, 2, 2, 2, 1, 2, 0, 1, 0, 1), strata = c(rep(0, 10), rep(1, 4)),
  ng = 3)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", pretty = TRUE),
           "gray_f_one.json")
