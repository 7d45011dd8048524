# Stratified log-rank (survdiff) and Gray's test (cmprsk::cuminc, strata=) references.
# Run from tests/reference: Rscript strata.R  (writes strata.json)
# lung.csv = survival's lung restricted to complete age, ph.ecog, ph.karno, wt.loss
# (group = sex - 1); its inst column is recovered here and written to the JSON (one NA).
# veteran.csv = survival's veteran in row order (group = trt - 1); celltype likewise.
library(survival); library(cmprsk); library(jsonlite)
l <- read.csv("lung.csv")
cc <- lung[complete.cases(lung[, c("age", "ph.ecog", "ph.karno", "wt.loss")]), ]
stopifnot(nrow(cc) == nrow(l), all(cc$time == l$time), all(cc$age == l$age),
          all(cc$sex - 1 == l$group))
l$inst <- cc$inst
l$ecog3 <- pmin(l$ph_ecog, 2)
v <- read.csv("veteran.csv")
stopifnot(all(veteran$time == v$time), all(veteran$trt - 1 == v$group))
v$celltype <- as.character(veteran$celltype)
v$arm3 <- findInterval(v$karno, c(40.5, 70.5))
sd <- function(f) list(chisq = f$chisq, df = length(f$n) - 1,
                       observed = unname(rowSums(as.matrix(f$obs))),
                       expected = unname(rowSums(as.matrix(f$exp))),
                       variance = unname(f$var), n = sum(f$n))
out <- list(description = paste(
  "survdiff(Surv(time, event) ~ group + strata(s), rho) on lung.csv (s = inst; the row",
  "with missing inst is dropped by R's na.action) and veteran.csv (s = celltype);",
  "lung ecog3 = pmin(ph_ecog, 2), veteran arm3 = findInterval(karno, c(40.5, 70.5)).",
  "cuminc(time, status, group, strata=, rho=) on mgus2.csv: age3 = findInterval(age,",
  "c(65, 75)), hgb3 = findInterval(hgb, c(12, 14))."),
  lung_inst = l$inst, veteran_celltype = v$celltype)
for (rho in c(0, 1)) {
  key <- paste0("rho", rho)
  out$survdiff[[paste0("lung_group_", key)]] <- sd(survdiff(Surv(time, event) ~ group + strata(inst), l, rho = rho))
  out$survdiff[[paste0("lung_ecog3_", key)]] <- sd(survdiff(Surv(time, event) ~ ecog3 + strata(inst), l, rho = rho))
  out$survdiff[[paste0("veteran_group_", key)]] <- sd(survdiff(Surv(time, event) ~ group + strata(celltype), v, rho = rho))
  out$survdiff[[paste0("veteran_arm3_", key)]] <- sd(survdiff(Surv(time, event) ~ arm3 + strata(celltype), v, rho = rho))
}
m <- read.csv("mgus2.csv")
m$age3 <- findInterval(m$age, c(65, 75)); m$hgb3 <- findInterval(m$hgb, c(12, 14))
gt <- function(r) list(stat = unname(r$Tests[, "stat"]), p = unname(r$Tests[, "pv"]),
                       df = unname(r$Tests[, "df"]), cause = rownames(r$Tests))
out$cuminc <- list(
  group_age3 = gt(cuminc(m$time, m$status, m$group, strata = m$age3)),
  group_age3_rho1 = gt(cuminc(m$time, m$status, m$group, strata = m$age3, rho = 1)),
  hgb3_group = gt(cuminc(m$time, m$status, m$hgb3, strata = m$group)))
out$r_version <- R.version.string
out$survival_version <- as.character(packageVersion("survival"))
out$cmprsk_version <- as.character(packageVersion("cmprsk"))
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "strata.json")
