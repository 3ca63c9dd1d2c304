/* dirlist.h -- the files of a directory with a given suffix, in name order.
 *
 * The policy and template loaders read "every *.yaml in the directory, sorted by name"; this
 * is that listing, once. Hidden files (".name") are left out so editor droppings never load.
 */
#ifndef TG_DIRLIST_H
#define TG_DIRLIST_H

#include "base/diag.h"

/* A NULL-terminated heap array of "dir/name" paths whose name ends in suffix, sorted by name
 * (strcmp); free with tg_strv_free (yamlfile.h). An empty directory gives an empty array.
 * NULL when dir cannot be read, after reporting it into diag. */
char **tg_dirlist(const char *dir, const char *suffix, struct tg_diag *diag);

#endif
