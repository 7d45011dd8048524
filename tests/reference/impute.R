# mice's augmented logistic fit (mice.impute.logreg): the pseudo-rows of mice:::augment and
# the fit's coefficients and cov.unscaled, on a small data set and on one with perfect
# prediction (y = 1 exactly when x1 > 0). Writes impute.json.
library(mice); library(jsonlite)
set.seed(20261130)
n <- 40
x <- cbind(x1 = round(rnorm(n), 3), x2 = rbinom(n, 1, 0.4))
fit_aug <- function(y, x) {
  ry <- rep(TRUE, length(y))
  aug <- mice:::augment(y, ry, x, !ry)
  xa <- cbind(1, as.matrix(aug$x))
  # converged tightly (mice uses the default 1e-8): the exact maximum for the comparison
  fit <- glm.fit(x = xa, y = aug$y, family = quasibinomial(link = logit), weights = aug$w,
                 control = list(epsilon = 1e-14, maxit = 100))
  s <- summary.glm(fit)
  list(aug_x = unname(as.matrix(aug$x)[(n + 1):nrow(aug$x), ]), aug_y = unname(aug$y[(n + 1):length(aug$y)]),
       aug_w = unname(aug$w[(n + 1):length(aug$w)]), coef = unname(coef(fit)),
       cov_unscaled = unname(s$cov.unscaled))
}
y <- rbinom(n, 1, plogis(-0.3 + 1.2 * x[, 1] + 0.5 * x[, 2]))
sep <- as.integer(x[, 1] > 0)
out <- list(x = unname(x), y = y, sep = sep, fit = fit_aug(y, x), fit_sep = fit_aug(sep, x),
            r_version = R.version.string, mice_version = as.character(packageVersion("mice")))
write(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "impute.json")
