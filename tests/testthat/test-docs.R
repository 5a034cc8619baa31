# The documentation users read (README, NEWS, vignettes, help pages,
# bench/README, cran-comments) checked against the package itself: it speaks
# of the package only, README's code runs, and the counts and lists it
# states are the package's. These tests read the source tree: under
# `make test` (tools/run-tests.R) they run from its tests/testthat; from an
# installed package alone (R CMD check's tests) there is no README to read,
# and they are skipped.

docs_root <- function() {
  root <- normalizePath(file.path("..", ".."), mustWork = FALSE)
  desc <- file.path(root, "DESCRIPTION")
  ok <- file.exists(desc) && file.exists(file.path(root, "README.md")) &&
    identical(unname(read.dcf(desc, "Package")[1, 1]), "glmmgee")
  if (!ok) skip("the package's source tree (README.md, vignettes/) is not here")
  root
}

read_doc <- function(root, path) readLines(file.path(root, path), warn = FALSE, encoding = "UTF-8")

test_that("product files speak of the package only, not of the work on it", {
  root <- docs_root()
  files <- c("README.md", "NEWS.md", "bench/README.md", "cran-comments.md",
             file.path("vignettes", list.files(file.path(root, "vignettes"), "\\.Rmd$")),
             file.path("man", list.files(file.path(root, "man"), "\\.Rd$")))
  expect_gt(length(files), 60L)
  pattern <- "round [0-9]|main's build|branch [a-z]|load [0-9]"
  hits <- unlist(lapply(files, function(f) {
    x <- read_doc(root, f)
    i <- grep(pattern, x, ignore.case = TRUE)
    if (length(i)) paste0(f, ":", i, ": ", substr(x[i], 1, 120))
  }))
  expect_identical(hits, NULL, info = paste(hits, collapse = "\n"))
})

test_that("README is a front page: short, short lines, no diary", {
  root <- docs_root()
  x <- read_doc(root, "README.md")
  expect_lte(length(x), 200L)
  expect_lte(file.size(file.path(root, "README.md")), 20 * 1024)
  expect_lte(max(nchar(x, type = "chars")), 300L)
  # the two set-up commands it gives are the Makefile's targets
  mk <- read_doc(root, "Makefile")
  for (target in c("demo", "test", "site", "bench", "check", "install"))
    if (any(grepl(paste0("make ", target, "\\b"), x)))
      expect_true(any(grepl(paste0("^", target, ":"), mk)), info = target)
  expect_true(any(grepl("^make demo\\b", x)))
  expect_true(any(grepl("^make test\\b", x)))
})

test_that("every r code chunk of README runs", {
  root <- docs_root()
  skip_if_not_installed("MASS")
  x <- read_doc(root, "README.md")
  starts <- grep("^```r\\s*$", x)
  ends <- grep("^```\\s*$", x)
  expect_gt(length(starts), 0L)
  grDevices::pdf(NULL)
  on.exit(grDevices::dev.off(), add = TRUE)
  for (s in starts) {
    e <- min(ends[ends > s])
    code <- x[(s + 1L):(e - 1L)]
    env <- new.env(parent = globalenv())
    expect_no_error(utils::capture.output(eval(parse(text = code), envir = env)),
                    message = paste("README chunk at line", s))
  }
})

test_that("the speed table's scripts exist and bench/README gives their commands", {
  root <- docs_root()
  x <- read_doc(root, "README.md")
  scripts <- unique(regmatches(x, regexpr("bench-[a-z0-9-]+\\.R", x)))
  expect_gt(length(scripts), 4L)
  bench <- read_doc(root, "bench/README.md")
  for (s in scripts) {
    expect_true(file.exists(file.path(root, "bench", s)), info = s)
    expect_true(any(grepl(paste0("Rscript bench/", s), bench, fixed = TRUE)), info = s)
  }
  # every script bench/README tells users to run is there
  cmds <- unique(unlist(regmatches(bench, gregexpr("bench/[A-Za-z0-9_-]+\\.R", bench))))
  for (s in cmds) expect_true(file.exists(file.path(root, s)), info = s)
})

test_that("the vignettes the docs list and count are the package's", {
  root <- docs_root()
  vig <- sub("\\.Rmd$", "", list.files(file.path(root, "vignettes"), "\\.Rmd$"))
  n <- length(vig)
  # README links each of them once
  readme <- read_doc(root, "README.md")
  linked <- unlist(regmatches(readme, gregexpr("vignettes/[a-z0-9-]+\\.Rmd", readme)))
  expect_setequal(sub("^vignettes/(.*)\\.Rmd$", "\\1", linked), vig)
  # the package's help page names every one
  pkg <- paste(read_doc(root, "man/glmmgee-package.Rd"), collapse = " ")
  for (v in vig) expect_true(grepl(sprintf("vignette(\"%s\"", v), pkg, fixed = TRUE), info = v)
  # the counts in words in NEWS and cran-comments
  words <- c("one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
             "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen")
  counted <- function(txt) {
    txt <- gsub("\\s+", " ", paste(txt, collapse = " "))
    m <- regmatches(txt, gregexpr("\\b([a-z]+) vignettes\\b|Vignettes: ([a-z]+)", txt,
                                  ignore.case = TRUE))
    w <- tolower(sub("^Vignettes: ", "", sub(" vignettes$", "", unlist(m), ignore.case = TRUE)))
    match(w[w %in% words], words)
  }
  stated <- c(counted(read_doc(root, "NEWS.md")), counted(read_doc(root, "cran-comments.md")),
              counted(readme))
  expect_gt(length(stated), 1L)
  expect_true(all(stated == n), info = paste(stated, collapse = ", "))
})

test_that("the families and links the docs list are the package's", {
  root <- docs_root()
  tab <- glmmgee:::family_table()
  news <- paste(read_doc(root, "NEWS.md"), collapse = " ")
  readme <- paste(read_doc(root, "README.md"), collapse = " ")
  tasks <- paste(read_doc(root, "man/glmmgee-tasks.Rd"), collapse = " ")
  # how NEWS names each family of the engine's table
  spelled <- c(gaussian = "gaussian", binomial = "binomial", poisson = "poisson",
               Gamma = "Gamma", nbinom2 = "nbinom2()", nbinom1 = "nbinom1()",
               beta = "beta_family()", betabinomial = "betabinomial()")
  fams <- unique(tab$supported$family)
  expect_true(all(fams %in% names(spelled)), info = paste(setdiff(fams, names(spelled)), collapse = ", "))
  for (f in fams) expect_true(grepl(spelled[[f]], news, fixed = TRUE), info = f)
  # the binomial links NEWS lists are those the engine supports
  stated <- regmatches(news, regexpr("binomial \\(([a-z, ]+) links", news))
  stated <- strsplit(sub("^binomial \\(([a-z, ]+) links$", "\\1", stated), ", ")[[1]]
  expect_setequal(stated, tab$supported$link[tab$supported$family == "binomial"])
  # every family constructor the package exports is in README's index and the task topic
  ns <- asNamespace("glmmgee")
  ctors <- Filter(function(f) {
    v <- tryCatch(get(f, ns)(), error = function(e) NULL)
    inherits(v, "family")
  }, getNamespaceExports("glmmgee"))
  expect_gt(length(ctors), 6L)
  for (f in ctors) {
    expect_true(grepl(paste0(f, "()"), readme, fixed = TRUE), info = f)
    expect_true(grepl(f, tasks, fixed = TRUE), info = f)
  }
})

test_that("the covariance structures the docs list are the package's", {
  root <- docs_root()
  kinds <- glmmgee:::covstruct_kinds
  for (f in c("README.md", "NEWS.md", "man/glmmgee-tasks.Rd")) {
    txt <- paste(read_doc(root, f), collapse = " ")
    listed <- unique(unlist(regmatches(txt, gregexpr("\\b(us|diag|homdiag|ar1|hetar1|cs|homcs|toep|homtoep|ou|exp|gau|mat|rr|propto|equalto)\\(\\)", txt))))
    expect_setequal(sub("\\(\\)$", "", listed), kinds)
  }
})

test_that("every exported function is one hop from the task index", {
  root <- docs_root()
  tasks <- paste(read_doc(root, "man/glmmgee-tasks.Rd"), collapse = " ")
  # generics re-exported from other packages (tidy(), fixef(), ...) excepted
  reexp <- read_doc(root, "man/reexports.Rd")
  reexp <- sub("^\\\\alias\\{(.*)\\}$", "\\1", grep("^\\\\alias\\{", reexp, value = TRUE))
  expect_true("tidy" %in% reexp)
  ex <- setdiff(getNamespaceExports("glmmgee"), reexp)
  missing <- ex[!vapply(ex, function(f) grepl(f, tasks, fixed = TRUE), TRUE)]
  expect_identical(missing, character(), info = paste(missing, collapse = ", "))
  # and the task index is linked from ?glmm, ?gee and the package's page
  for (rd in c("glmm.Rd", "gee.Rd", "glmmgee-package.Rd"))
    expect_true(grepl("glmmgee-tasks", paste(read_doc(root, file.path("man", rd)), collapse = " ")),
                info = rd)
})

test_that("NEWS parses as R's NEWS.md", {
  root <- docs_root()
  db <- tools:::.build_news_db_from_package_NEWS_md(file.path(root, "NEWS.md"))
  expect_gt(nrow(db), 5L)
  expect_identical(unique(db$Version), as.character(utils::packageVersion("glmmgee")))
})

test_that("every help page is in the site's reference index", {
  root <- docs_root()
  skip_if_not_installed("yaml")
  skip_if_not(file.exists(file.path(root, "_pkgdown.yml")), "no _pkgdown.yml here")
  site <- yaml::read_yaml(file.path(root, "_pkgdown.yml"))
  listed <- unlist(lapply(site$reference, `[[`, "contents"))
  rd <- list.files(file.path(root, "man"), "\\.Rd$", full.names = TRUE)
  # a page is listed by its name or any of its aliases, as pkgdown matches
  missing <- unlist(lapply(rd, function(f) {
    x <- read_doc(root, file.path("man", basename(f)))
    if (any(grepl("^\\\\keyword\\{internal\\}", x))) return(NULL)
    names <- sub("^\\\\(name|alias)\\{(.*)\\}$", "\\2",
                 grep("^\\\\(name|alias)\\{", x, value = TRUE))
    if (!any(names %in% listed)) names[1L]
  }))
  missing <- as.character(missing)
  expect_identical(missing, character(), info = paste(missing, collapse = ", "))
})
