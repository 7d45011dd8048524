# Weighted Table 1 against R's survey package: design-based means, SDs, quartiles and
# proportions, and the design-based tests, with the IPTW (ATE) weights of lung.json.
# Run from tests/reference: Rscript survey.R  (writes survey.json)
suppressPackageStartupMessages({library(survey); library(jsonlite)})
l <- read.csv("lung.csv")
l$w <- fromJSON("lung.json")$iptw$weights_ate
des <- svydesign(ids = ~1, weights = ~w, data = l)
out <- list()
for (g in c(1, 0)) {
  d <- subset(des, group == g)
  m <- svymean(~age, d)
  q <- svyquantile(~age, d, c(0.25, 0.5, 0.75), ci = FALSE)
  e <- svymean(~factor(ph_ecog, levels = 0:3), d, na.rm = TRUE)
  out[[paste0("group", g)]] <- list(
    age_mean = unname(coef(m)), age_sd = unname(sqrt(coef(svyvar(~age, d)))),
    age_quartiles = unname(as.vector(q$age[1, ])), ph_ecog_props = unname(coef(e)))
}
out$calls <- c("svymean(~age, subset(des, group == g))", "sqrt(svyvar(~age, .))",
               "svyquantile(~age, ., c(.25, .5, .75))", "svymean(~factor(ph_ecog), .)",
               "svyttest(age ~ group, des)", "svyttest(ph_karno ~ group, des)",
               "svychisq(~ph_ecog + group, des)  (Rao-Scott F)")
out$ttest_age_p <- unname(svyttest(age ~ group, des)$p.value)
out$ttest_karno_p <- unname(svyttest(ph_karno ~ group, des)$p.value)
out$chisq_ecog_p <- unname(svychisq(~ph_ecog + group, des)$p.value)
out$r_version <- R.version.string; out$survey_version <- as.character(packageVersion("survey"))
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "survey.json")
