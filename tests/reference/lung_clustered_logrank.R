# Robust (clustered) score test of coxph at beta = 0 (the clustered log-rank test).
# The cluster ids cid (a seeded grouping of lung.csv's rows into 83 clusters mixing arms)
# are kept in the JSON itself; this script recomputes the R numbers from them.
# Run from tests/reference: Rscript lung_clustered_logrank.R  (rewrites the JSON's numbers)
suppressPackageStartupMessages({library(survival); library(jsonlite)})
ref <- fromJSON("lung_clustered_logrank.json")
d <- read.csv("lung.csv")
d$cid <- ref$cid
d$w <- fromJSON("lung.json")$iptw$weights_ate
d$st <- d$age > 62
rob <- function(f) { s <- summary(f)$robscore; list(test = unname(s["test"]), p = unname(s["pvalue"])) }
ref$clustered <- rob(coxph(Surv(time, event) ~ group + cluster(cid), data = d, ties = "breslow"))
ref$clustered_weighted <- rob(coxph(Surv(time, event) ~ group + cluster(cid), data = d, weights = w,
                                    ties = "breslow"))
ref$clustered_stratified <- rob(coxph(Surv(time, event) ~ group + strata(st) + cluster(cid),
                                      data = d, ties = "breslow"))
write(toJSON(ref, digits = NA, auto_unbox = TRUE, pretty = TRUE), "lung_clustered_logrank.json")
