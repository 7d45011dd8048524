# Reference for mo.match: MatchIt (>= 4.5.4; the version is recorded in match.json)
# nearest-neighbour matching on the linear logit of a glm propensity score,
# method = "nearest", distance = "glm", link = "linear.logit".
# Data: match_cohort.csv (continuous and binary covariates, a three-level factor, a
# site for exact matching, a survival outcome) and match_ties.csv (discrete covariates
# only, so many units share a propensity score: the tie-breaking rules are exercised),
# both simulated here with set.seed. Run from tests/reference: Rscript match.R
suppressMessages({library(MatchIt); library(survival); library(jsonlite)})
stopifnot(packageVersion("MatchIt") >= "4.5.4")

set.seed(20240611)
n <- 400
age <- round(rnorm(n, 65, 10), 1)
bmi <- round(rnorm(n, 28, 4), 2)
diabetes <- rbinom(n, 1, 0.3)
female <- rbinom(n, 1, 0.35)
vessel <- factor(sample(c("LAD", "LCX", "RCA"), n, TRUE, c(0.5, 0.2, 0.3)))
site <- sample(c("A", "B", "C"), n, TRUE)
lp <- -1.2 + 0.04 * (age - 65) + 0.08 * (bmi - 28) + 0.6 * diabetes - 0.4 * female +
  0.3 * (vessel == "RCA")
arm <- rbinom(n, 1, plogis(lp))
haz <- 0.0008 * exp(0.03 * (age - 65) + 0.5 * diabetes - 0.3 * arm)
tt <- rexp(n, haz)
cens <- runif(n, 200, 900)
cohort <- data.frame(id = 1000 + seq_len(n), arm, age, bmi, diabetes, female, vessel, site,
                     time = round(pmin(tt, cens), 1), status = as.integer(tt <= cens))
write.csv(cohort, "match_cohort.csv", row.names = FALSE)

set.seed(7)
m2 <- 300
ties <- data.frame(id = seq_len(m2), age10 = sample(5:8, m2, TRUE),
                   diabetes = rbinom(m2, 1, 0.3), female = rbinom(m2, 1, 0.4))
ties$arm <- rbinom(m2, 1, plogis(-1 + 0.3 * (ties$age10 - 6) + 0.7 * ties$diabetes))
write.csv(ties, "match_ties.csv", row.names = FALSE)

f_cohort <- arm ~ age + bmi + diabetes + female + vessel
f_ties <- arm ~ age10 + diabetes + female

run <- function(data, f, ..., cox = TRUE) {
  rownames(data) <- data$id
  m <- matchit(f, data = data, method = "nearest", distance = "glm",
               link = "linear.logit", ...)
  mm <- m$match.matrix
  d <- m$distance
  args <- lapply(list(...), function(a) if (inherits(a, "formula")) deparse(a) else a)
  cal <- NULL
  if (!is.null(m$caliper)) cal <- unname(m$caliper[names(m$caliper) == ""])
  pairs <- list()
  for (i in seq_len(nrow(mm))) {
    ctrl <- mm[i, ]
    ctrl <- ctrl[!is.na(ctrl)]
    if (length(ctrl) == 0) next
    # no pair lies outside the caliper
    if (length(cal)) stopifnot(all(abs(d[rownames(mm)[i]] - d[ctrl]) <= cal))
    pairs[[length(pairs) + 1]] <- list(focal = as.numeric(rownames(mm)[i]),
                                       matches = as.numeric(ctrl))
  }
  s <- summary(m, un = TRUE)
  bal <- function(x) list(covariate = rownames(x), smd = unname(x[, "Std. Mean Diff."]),
                          var_ratio = unname(x[, "Var. Ratio"]))
  nn <- s$nn
  out <- list(args = args, caliper = if (length(cal)) cal else NULL,
              caliper17 = if (length(cal)) sprintf("%.17g", cal) else NULL,
              # 17 significant digits (JSON numbers keep 15): R's distances bit for bit
              distance = sprintf("%.17g", unname(d)),
              coef = sprintf("%.17g", unname(coef(m$model))), id = data$id, pairs = pairs,
              weights = unname(m$weights),
              subclass = if (is.null(m$subclass)) NULL else as.integer(as.character(m$subclass)),
              balance_all = bal(s$sum.all), balance_matched = bal(s$sum.matched),
              nn = list(rows = rownames(nn), control = unname(nn[, "Control"]),
                        treated = unname(nn[, "Treated"])))
  if (cox && "time" %in% names(data)) {
    md <- match.data(m)
    fit <- if (is.null(m$subclass))
      coxph(Surv(time, status) ~ arm, data = md, weights = weights, robust = TRUE)
    else
      coxph(Surv(time, status) ~ arm, data = md, weights = weights, cluster = subclass)
    out$cox <- list(coef = unname(coef(fit)), se = unname(sqrt(diag(vcov(fit)))),
                    naive_se = unname(sqrt(diag(fit$naive.var))))
    if (!is.null(m$subclass)) {
      # compare_arms' matched row: weighted KM clustered on the matched set at 365 days,
      # and the robust (clustered) score test = the cluster-robust log-rank
      km <- summary(survfit(Surv(time, status) ~ arm, data = md, weights = weights,
                            cluster = subclass, conf.type = "log-log"), times = 365)
      rs <- summary(coxph(Surv(time, status) ~ arm + cluster(subclass), data = md,
                          weights = weights, ties = "breslow"))$robscore
      out$km365 <- list(arm = c(0, 1), surv = km$surv, std_err = km$std.err,
                        lower = km$lower, upper = km$upper)
      out$logrank_robust <- list(test = unname(rs["test"]), p = unname(rs["pvalue"]))
    }
  }
  out
}

cases <- list(
  nearest = run(cohort, f_cohort),
  caliper = run(cohort, f_cohort, caliper = 0.2),
  caliper_smallest = run(cohort, f_cohort, caliper = 0.2, m.order = "smallest"),
  caliper_data = run(cohort, f_cohort, caliper = 0.2, m.order = "data"),
  ratio2 = run(cohort, f_cohort, ratio = 2),
  ratio3_caliper = run(cohort, f_cohort, ratio = 3, caliper = 0.1),
  replace = run(cohort, f_cohort, replace = TRUE),
  replace_ratio2_caliper = run(cohort, f_cohort, replace = TRUE, ratio = 2, caliper = 0.2),
  exact_site = run(cohort, f_cohort, exact = ~site, caliper = 0.2),
  atc = run(cohort, f_cohort, estimand = "ATC", caliper = 0.2),
  atc_ratio2 = run(cohort, f_cohort, estimand = "ATC", ratio = 2, caliper = 0.3),
  caliper_logit_units = run(cohort, f_cohort, caliper = 0.1, std.caliper = FALSE),
  replace_exact_ratio2 = run(cohort, f_cohort, replace = TRUE, ratio = 2, exact = ~site,
                             caliper = 0.2),
  ties = run(ties, f_ties, caliper = 0.2),
  ties_data = run(ties, f_ties, m.order = "data"),
  ties_ratio2 = run(ties, f_ties, ratio = 2),
  ties_replace = run(ties, f_ties, replace = TRUE)
)
# The tie rule by hand: controls at 0 and 2, treated at 0.9 and 1. The unit at 1 (matched
# first, largest) is exactly 1 from both controls; the walk passes the other treated
# unit on its left, so it reaches the right control first and takes it.
hand <- data.frame(id = 1:4, arm = c(0, 1, 1, 0), x = c(0, 0.9, 1, 2))
rownames(hand) <- hand$id
mh <- matchit(arm ~ x, data = hand, method = "nearest", distance = hand$x)
hand_tie <- list(x = hand$x, arm = hand$arm, treated = as.numeric(rownames(mh$match.matrix)),
                 control = as.numeric(mh$match.matrix[, 1]))
out <- list(matchit_version = as.character(packageVersion("MatchIt")),
            r_version = R.version.string, cases = cases, hand_tie = hand_tie)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, null = "null"), "match.json")
