# Counting-process (start, stop] references: R survival 3.5 on the Stanford heart
# transplant data (heart) and an age-scale analysis of mgus2. Run from tests/reference:
#   Rscript counting.R   (writes heart.csv, mgus2_age.csv and counting.json)
library(survival); library(jsonlite)
h0 <- survival::heart
write.csv(data.frame(id=h0$id, start=h0$start, stop=h0$stop, event=h0$event, age=h0$age,
                     year=h0$year, surgery=h0$surgery, transplant=as.integer(as.character(h0$transplant))),
          "heart.csv", row.names=FALSE)
h <- read.csv("heart.csv")  # the numbers below come from exactly what the tests read
m0 <- survival::mgus2
write.csv(data.frame(id=m0$id, age=m0$age, sex=as.character(m0$sex), futime=m0$futime, death=m0$death),
          "mgus2_age.csv", row.names=FALSE)
m <- read.csv("mgus2_age.csv")
h$w <- 1 + (h$id %% 3) / 2
m$entry <- m$age; m$exit <- m$age + m$futime / 12
out <- list()
g <- function(f) { s <- summary(f); list(term=names(coef(f)), coef=unname(coef(f)), se=unname(sqrt(diag(f$var))),
   naive_se=unname(sqrt(diag(if (is.null(f$naive.var)) f$var else f$naive.var))), loglik=f$loglik,
   lr=unname(s$logtest[1]), wald=unname(f$wald.test), score=unname(s$sctest[1]), n=f$n, nevent=f$nevent)}
km <- function(f) { s <- summary(f, censored=TRUE)
   list(strata=if (is.null(s$strata)) rep("all", length(s$time)) else as.character(s$strata),
        time=s$time, n_risk=s$n.risk, n_event=s$n.event, n_censor=s$n.censor, surv=s$surv, std_err=s$std.err,
        lower=s$lower, upper=s$upper) }
out$heart_efron <- g(coxph(Surv(start, stop, event) ~ age + transplant + surgery, h))
out$heart_breslow <- g(coxph(Surv(start, stop, event) ~ age + transplant + surgery, h, ties="breslow"))
out$heart_cluster <- g(coxph(Surv(start, stop, event) ~ age + transplant + surgery, h, cluster=id))
out$heart_cluster_breslow <- g(coxph(Surv(start, stop, event) ~ age + transplant + surgery, h, cluster=id, ties="breslow"))
out$heart_strata <- g(coxph(Surv(start, stop, event) ~ age + transplant + strata(surgery), h))
out$heart_weighted <- g(coxph(Surv(start, stop, event) ~ age + transplant + surgery, h, weights=w, cluster=id))
out$heart_km <- km(survfit(Surv(start, stop, event) ~ transplant, h))
out$heart_km_all <- km(survfit(Surv(start, stop, event) ~ 1, h))
out$heart_km_weighted_cluster <- km(survfit(Surv(start, stop, event) ~ transplant, h, weights=w, cluster=id))
h$row <- seq_len(nrow(h))  # each row its own cluster (R asks for one with (start, stop] rows)
out$heart_km_robust <- km(survfit(Surv(start, stop, event) ~ transplant, h, robust=TRUE, cluster=row))
# survdiff takes no (start, stop] rows; the log-rank with delayed entry is coxph's score test
out$heart_score_breslow <- g(coxph(Surv(start, stop, event) ~ transplant, h, ties="breslow"))
out$heart_score_efron <- g(coxph(Surv(start, stop, event) ~ transplant, h))
# survdiff's log-rank formula written out on the risk sets start < t <= stop
lr_cp <- function(start, stop, event, grp) {
  o <- e <- v <- 0
  for (t in sort(unique(stop[event == 1]))) {
    r <- start < t & stop >= t; n <- sum(r); n1 <- sum(r & grp == 1)
    dd <- event == 1 & stop == t; d <- sum(dd)
    o <- o + sum(dd & grp == 1); e <- e + d * n1 / n
    if (n > 1) v <- v + d * (n - d) / (n - 1) * (n1 / n) * (1 - n1 / n)
  }
  list(observed1=o, expected1=e, var=v, chisq=(o - e)^2 / v)
}
out$heart_logrank <- lr_cp(h$start, h$stop, h$event, h$transplant)
out$heart_logrank_surgery0 <- lr_cp(h$start[h$surgery == 0], h$stop[h$surgery == 0],
                                    h$event[h$surgery == 0], h$transplant[h$surgery == 0])
out$heart_logrank_surgery1 <- lr_cp(h$start[h$surgery == 1], h$stop[h$surgery == 1],
                                    h$event[h$surgery == 1], h$transplant[h$surgery == 1])
out$mgus2_age_cox <- g(coxph(Surv(entry, exit, death) ~ sex, m))
out$mgus2_age_cox_breslow <- g(coxph(Surv(entry, exit, death) ~ sex, m, ties="breslow"))
out$mgus2_age_km <- km(survfit(Surv(entry, exit, death) ~ sex, m))
# the same data with times 2 and sqrt(2)^2: aeqSurv makes them one time
tt <- data.frame(time=c(1, 2, sqrt(2)^2, 3, 3, 4), event=c(1, 1, 1, 0, 1, 1), x=c(0, 1, 0, 1, 0, 1))
out$ties_km <- km(survfit(Surv(time, event) ~ 1, tt))
out$ties_cox <- g(coxph(Surv(time, event) ~ x, tt))
out$r_version <- R.version.string; out$survival_version <- as.character(packageVersion("survival"))
write(toJSON(out, digits=NA, auto_unbox=TRUE, pretty=TRUE), "counting.json")
