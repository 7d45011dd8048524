# Event-count regressions for mo.rate_ratio (tests/test_rate_ratio.py), R MASS + sandwich.
# Run from tests/reference:  Rscript counts.R   (writes counts.csv and counts.json)
# 1. R's survival::cgd recurrent infections (the rows of recurrent_cgd.csv) totalled per
#    patient: events = sum of status, time = last tstop - first tstart (days), with the
#    patient's baseline covariates and hospital (center) from survival::cgd.
# 2. MASS::quine (days absent from school; no exposure), the glm.nb example of MASS 4th
#    ed. section 7.4.
library(survival); library(MASS); library(sandwich); library(jsonlite)
out <- list(r_version = R.version.string, mass_version = as.character(packageVersion("MASS")),
            sandwich_version = as.character(packageVersion("sandwich")))
rows <- read.csv("recurrent_cgd.csv")
agg <- do.call(rbind, lapply(split(rows, rows$id), function(r)
  data.frame(id = r$id[1], treat = r$treat[1], events = sum(r$status),
             time = max(r$tstop) - min(r$tstart), w = r$w[1])))
base <- cgd[!duplicated(cgd$id), c("id", "center", "sex", "age", "inherit", "steroids")]
base$center <- as.character(base$center); base$sex <- as.character(base$sex)
base$inherit <- as.character(base$inherit)
d <- merge(agg, base, by = "id")
write.csv(d, "counts.csv", row.names = FALSE)
d <- read.csv("counts.csv")  # the numbers below come from exactly what the tests read
ctl <- glm.control(epsilon = 1e-12, maxit = 100)  # R's fits converged as ours
tidy <- function(f, v = vcov(f)) {
  b <- coef(f)
  list(term = names(b), coef = unname(b), se = unname(sqrt(diag(v))),
       vcov = unname(as.vector(v)), loglik = as.numeric(logLik(f)),
       theta = if (is.null(f$theta)) NULL else f$theta,
       theta_se = if (is.null(f$SE.theta)) NULL else f$SE.theta,
       twologlik = if (is.null(f$twologlik)) NULL else f$twologlik,
       iter = f$iter,
       # theta.ml evaluates SE.theta before its last Newton step; the same information
       # (MASS's formula) at the returned theta:
       theta_se_at_estimate = if (is.null(f$theta)) NULL else {
         th <- f$theta; mu <- fitted(f); y <- f$y; w <- f$prior.weights
         1 / sqrt(sum(w * (-trigamma(th + y) + trigamma(th) - 1/th + 2/(mu + th) -
                           (y + th)/(mu + th)^2))) })
}
totals <- aggregate(cbind(events, time) ~ treat, d, sum)
out$cgd_totals <- list(arm = totals$treat, events = totals$events, days = totals$time,
                       n = as.vector(table(d$treat)[totals$treat]))
f <- events ~ treat + offset(log(time))
fa <- events ~ treat + age + sex + inherit + steroids + offset(log(time))
out$cgd_nb <- tidy(glm.nb(f, d))
out$cgd_nb_tight <- tidy(glm.nb(f, d, control = ctl))
out$cgd_nb_adjusted <- tidy(glm.nb(fa, d, control = ctl))
out$cgd_poisson <- tidy(glm(f, poisson, d, control = ctl))
out$cgd_poisson_adjusted <- tidy(glm(fa, poisson, d, control = ctl))
# cluster-robust (hospital) sandwich: sandwich::vcovCL's default for a glm (HC0 with the
# G / (G - 1) cluster adjustment); theta held at its estimate for the negative binomial
nbc <- glm.nb(f, d, control = ctl); poc <- glm(f, poisson, d, control = ctl)
out$cgd_nb_cluster <- tidy(nbc, vcovCL(nbc, cluster = ~center))
out$cgd_poisson_cluster <- tidy(poc, vcovCL(poc, cluster = ~center))
# case weights: glm.nb and glm maximise the weighted likelihood; the robust variance then
# treats each patient as its own cluster (vcovCL with no cluster: G = n)
nbw <- glm.nb(f, d, weights = w, control = ctl); pow <- glm(f, poisson, d, weights = w, control = ctl)
out$cgd_nb_weighted <- tidy(nbw, vcovCL(nbw))
out$cgd_nb_weighted$naive_se <- unname(sqrt(diag(vcov(nbw))))
out$cgd_poisson_weighted <- tidy(pow, vcovCL(pow))
out$cgd_poisson_weighted$naive_se <- unname(sqrt(diag(vcov(pow))))
q <- MASS::quine
q$Eth <- as.character(q$Eth); q$Sex <- as.character(q$Sex)
q$Age <- as.character(q$Age); q$Lrn <- as.character(q$Lrn)
out$quine_data <- q
out$quine_nb <- tidy(glm.nb(Days ~ Eth + Sex + Age + Lrn, q, control = ctl))
out$quine_poisson <- tidy(glm(Days ~ Eth + Sex + Age + Lrn, poisson, q, control = ctl))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), "counts.json")
