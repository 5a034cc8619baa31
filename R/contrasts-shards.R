# `contrasts =` of the file-based front ends, glmm_shards() and
# gee_shards(): the rules and errors of glmm() and gee() (check_contrasts(),
# contrasts.R), applied on the main process to a prototype of the combined
# model frame built from the shards' first pass (no rows: each variable's
# class and the levels agreed across shards); the workers then code their
# fixed-effect designs with it (on_worker_design(), on_worker_gee_design()),
# random-effect designs keeping the default coding as in glmm().

# list(workers = the contrasts for the fixed terms `fixed_terms`, names
# resolved to functions here so that the workers need not find them;
# user = the same as given, what the fit stores), or NULL. A name that is
# no variable of the model but a column of the shard files is ignored, as
# glmm() ignores such a column of `data`, after the same check of its class
# (a numeric column is an error); its levels are not checked (the shards
# report the classes of their columns, not their values).
shard_contrasts <- function(contrasts, p1, agreed, group, fixed_terms) {
  if (is.null(contrasts)) return(NULL)
  proto <- shard_contrast_frame(p1, agreed, group)
  cls <- do.call(c, unname(lapply(p1, `[[`, "columns")))
  cls <- cls[!duplicated(names(cls)) & !names(cls) %in% names(proto)]
  coded <- cls %in% c("factor", "character", "logical")
  if (is.list(contrasts) && !is.null(names(contrasts)))
    contrasts <- contrasts[!names(contrasts) %in% names(cls)[coded]]
  # Stand-ins with the class of the other columns, for check_contrasts()'s
  # message.
  data <- function() lapply(cls[!coded], function(k) structure(numeric(0), class = k))
  user <- terms_contrasts(check_contrasts(contrasts, proto, data), fixed_terms)
  if (is.null(user)) return(NULL)
  list(user = user,
       workers = lapply(user, function(ca) if (is.character(ca)) match.fun(ca) else ca))
}

# The combined model frame's variables, without rows: factors (and
# character columns) with their agreed levels (the grouping factor with its
# clusters), logical columns with the values they take, others empty.
shard_contrast_frame <- function(p1, agreed, group) {
  kind <- p1[[1L]]$kind
  used <- function(v) sort(unique(unlist(lapply(p1, function(r) r$used[[v]]))))
  out <- lapply(stats::setNames(names(kind), names(kind)), function(v) {
    switch(kind[[v]],
      factor = , character = factor(character(),
                                    levels = if (identical(v, group)) agreed$clusters
                                             else agreed$levels[[v]] %||% used(v),
                                    ordered = v %in% agreed$ordered),
      logical = as.logical(used(v)),
      numeric(0))
  })
  out
}

# The fit's `$contrasts`: the workers' model.matrix() attribute `used`,
# where a contrast given by name (resolved to its function for the
# workers, which model.matrix() records as its matrix) is that name again,
# as glmm() and gee() store it. `ct`: shard_contrasts()'s.
shard_fit_contrasts <- function(used, ct) {
  if (is.null(ct)) return(used)
  named <- vapply(ct$user, is.character, TRUE)
  used[names(ct$user)[named]] <- ct$user[named]
  used
}
