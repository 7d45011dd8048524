# Aalen-Johansen with delayed entry (left truncation): R survival's multi-state survfit on
# (start, stop] rows, at risk when start < t <= stop. Run from tests/reference:
#   Rscript aj_entry.R   (writes aj_entry_mgus2.csv, aj_entry_small.csv and aj_entry.json)
# mgus2 on the age scale: entry at age at diagnosis, exit at age + months / 12; the first of
# progression (PCM, 1) or death (2), else censored (0).
library(survival); library(jsonlite)
m0 <- survival::mgus2
etime <- pmin(m0$ptime, m0$futime)
estatus <- ifelse(m0$pstat == 1, 1, 2 * m0$death)
write.csv(data.frame(id=m0$id, sex=as.character(m0$sex), entry=m0$age,
                     exit=m0$age + etime / 12, status=estatus),
          "aj_entry_mgus2.csv", row.names=FALSE)
# small hand-made rows: ties between causes, entries tied with exits (a row entering at t
# is not at risk at t), entries after others left, a censoring tied with events
s0 <- data.frame(
  id    = 1:16,
  grp   = c("a","a","a","a","a","a","a","a","b","b","b","b","b","b","b","b"),
  start = c(0, 0, 1, 2, 2, 3, 5, 0,   0, 1, 1, 4, 2, 6, 0, 3),
  stop  = c(2, 4, 4, 6, 3, 5, 8, 9,   3, 3, 5, 7, 6, 9, 4, 8),
  status= c(1, 2, 0, 1, 1, 0, 2, 0,   2, 1, 1, 0, 2, 1, 0, 1),
  w     = c(1, 2, 1.5, 1, 0.5, 1, 2, 1, 1, 1, 2, 0.5, 1, 1.5, 1, 1))
write.csv(s0, "aj_entry_small.csv", row.names=FALSE)
m <- read.csv("aj_entry_mgus2.csv")  # the numbers below come from exactly what the tests read
s <- read.csv("aj_entry_small.csv")
m$w <- 1 + (m$id %% 3) / 2
fit <- function(f) {
  g <- if (is.null(f$strata)) rep("all", length(f$time)) else
    sub(".*=", "", rep(names(f$strata), f$strata))
  list(group=g, time=f$time, n_risk=f$n.risk[, 1], pstate=unname(f$pstate),
       std_err=unname(f$std.err), n_event=unname(f$n.event))
}
out <- list()
out$mgus2 <- fit(survfit(Surv(entry, exit, factor(status)) ~ sex, m, id=id))
out$mgus2_all <- fit(survfit(Surv(entry, exit, factor(status)) ~ 1, m, id=id))
out$mgus2_weighted <- fit(survfit(Surv(entry, exit, factor(status)) ~ sex, m, id=id, weights=w))
out$small <- fit(survfit(Surv(start, stop, factor(status)) ~ grp, s, id=id))
out$small_weighted <- fit(survfit(Surv(start, stop, factor(status)) ~ grp, s, id=id, weights=w))
out$version <- as.character(packageVersion("survival"))
writeLines(toJSON(out, digits=NA, auto_unbox=TRUE), "aj_entry.json")
