# Time-varying exposure from registry dates: time_to_event(..., exposure_changes=...)
# against tmerge (tests/test_recurrent.py). Run from tests/reference:
#   Rscript exposure.R   (writes exposure.csv and exposure.json)
# Stanford heart transplant (survival::jasa) as a registry: index date = acceptance, last
# contact = follow-up date, death on that date when fustat = 1, transplant date as the
# exposure change. Times are whole days (no 0.5-day shifts as in the survival vignette): a
# transplant on the day follow-up ends cannot act within follow-up, and the one patient
# who died on the day of acceptance has no follow-up (left out, as time_to_event warns).
library(survival); library(jsonlite)
j <- survival::jasa
d <- data.frame(subject = seq_len(nrow(j)), accept_date = format(j$accept.dt),
                fu_date = format(j$fu.date), tx_date = format(j$tx.date),
                fustat = j$fustat, age = round(j$age, 6), surgery = j$surgery)
write.csv(d, "exposure.csv", row.names = FALSE, na = "")
d <- read.csv("exposure.csv", na.strings = "")  # the numbers below come from what the tests read
futime <- as.numeric(as.Date(d$fu_date) - as.Date(d$accept_date))
txtime <- as.numeric(as.Date(d$tx_date) - as.Date(d$accept_date))
base <- data.frame(subject = d$subject, futime = futime, fustat = d$fustat, age = d$age,
                   surgery = d$surgery)
keep <- base$futime > 0
tx <- data.frame(subject = d$subject, txtime = txtime)[keep & !is.na(txtime), ]
s <- tmerge(base[keep, ], base[keep, ], id = subject, death = event(futime, fustat))
s <- tmerge(s, tx, id = subject, transplant = tdc(txtime))
fit <- coxph(Surv(tstart, tstop, death) ~ transplant + age + surgery, s)
fit_b <- coxph(Surv(tstart, tstop, death) ~ transplant + age + surgery, s, ties = "breslow")
out <- list(r_version = R.version.string,
            survival_version = as.character(packageVersion("survival")),
            left_out = base$subject[!keep],
            split = list(subject = s$subject, tstart = s$tstart, tstop = s$tstop,
                         death = s$death, transplant = s$transplant),
            term = names(coef(fit)), coef = unname(coef(fit)),
            se = unname(sqrt(diag(fit$var))), loglik = fit$loglik,
            coef_breslow = unname(coef(fit_b)), se_breslow = unname(sqrt(diag(fit_b$var))))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "exposure.json")
