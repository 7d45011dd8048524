# Time-varying covariates (R's tmerge) and landmark analyses, R survival 3.5.
# Run from tests/reference:  Rscript split.R   (writes split_jasa.csv and split.json)
library(survival); library(jsonlite)
out <- list()
rows <- function(s, cols) lapply(s[cols], function(x) unname(x))

# 1. A small data set: a dose that changes, a statin started during follow-up. A change at
# time 0 sets the starting value; changes at or after a subject's last time are ignored.
base <- data.frame(id=1:5, time=c(10, 20, 15, 8, 30), event=c(1, 0, 1, 1, 0),
                   dose=c(1, 1, 2, 2, 1), statin=0)
dose <- data.frame(id=c(1, 1, 3, 4, 5, 2), t=c(4, 7, 0, 12, 10, 20), v=c(3, 5, 7, 4, 2, 9))
statin <- data.frame(id=c(2, 5, 1), t=c(5, 10, 12))
s <- tmerge(base[, c("id", "time", "event")], base, id=id, death=event(time, event))
s <- tmerge(s, rbind(data.frame(id=base$id, t=0, v=base$dose), dose), id=id, dose=tdc(t, v))
s <- tmerge(s, statin, id=id, statin=tdc(t))
out$small <- list(base=base, dose=dose, statin=statin,
                  split=rows(s, c("id", "tstart", "tstop", "death", "dose", "statin")))

# 2. Stanford heart transplant (jasa): transplant as a time-varying exposure, the
# survival package's own vignette ("Using Time Dependent Covariates", section 3.1).
j <- survival::jasa
j$subject <- seq_len(nrow(j))
tdata <- with(j, data.frame(subject=subject, futime=pmax(.5, fu.date - accept.dt),
                            txtime=ifelse(tx.date == fu.date, (tx.date - accept.dt) - .5,
                                          (tx.date - accept.dt)),
                            fustat=fustat, age=age, surgery=surgery))
tdata$futime <- as.numeric(tdata$futime); tdata$txtime <- as.numeric(tdata$txtime)
write.csv(tdata, "split_jasa.csv", row.names=FALSE)
tdata <- read.csv("split_jasa.csv")  # the numbers below come from exactly what the tests read
tdata$trt <- 0
sj <- tmerge(tdata[, c("subject", "futime", "fustat", "age", "surgery", "trt")], tdata,
             id=subject, death=event(futime, fustat), trt=tdc(txtime))
fit <- coxph(Surv(tstart, tstop, death) ~ trt + age + surgery, sj)
out$jasa <- list(split=rows(sj, c("subject", "tstart", "tstop", "death", "trt")),
                 coef=unname(coef(fit)), se=unname(sqrt(diag(fit$var))), term=names(coef(fit)),
                 loglik=fit$loglik)

# 3. Landmark at day 180 on lung (time in days, event 0/1, group): the first window censors
# at day 180, the second keeps those event-free and followed beyond it, time from day 180
# and censored at day 730.
l <- read.csv("lung.csv")
at <- 180; hz <- 730
l$t1 <- pmin(l$time, at); l$e1 <- l$event * (l$time <= at)
l2 <- l[l$time > at, ]
l2$t2 <- pmin(l2$time, hz) - at; l2$e2 <- l2$event * (l2$time <= hz)
d1 <- survdiff(Surv(t1, e1) ~ group, l); d2 <- survdiff(Surv(t2, e2) ~ group, l2)
r1 <- summary(survfit(Surv(t1, e1) ~ group, l), times=c(0, 60, 120, 180), extend=TRUE)
r2 <- summary(survfit(Surv(t2, e2) ~ group, l2), times=c(0, 100, 200, 300, 400, 500),
              extend=TRUE)
out$landmark <- list(at=at, horizon=hz, n_before=nrow(l), n_after=nrow(l2),
                     event_before=sum(l$event[l$time <= at]),
                     censored_before=sum(1 - l$event[l$time <= at]),
                     chisq=c(d1$chisq, d2$chisq),
                     p=c(1 - pchisq(d1$chisq, 1), 1 - pchisq(d2$chisq, 1)),
                     risk1=list(strata=as.character(r1$strata), time=r1$time, n_risk=r1$n.risk),
                     risk2=list(strata=as.character(r2$strata), time=r2$time, n_risk=r2$n.risk))
writeLines(toJSON(out, digits=NA, auto_unbox=TRUE), "split.json")
