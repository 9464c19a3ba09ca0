/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "io/graft-download.h"

G_BEGIN_DECLS

/* The catalog of pre-trained models a user can start from: the models that ship with
 * Graft (their model cards in the bundled models folder), models the user trained with
 * a recipe such as `graft-cli pretrain` (cards in their own models folder, ahead of a
 * bundled model of the same name), and ImageNet-1k weights from public model hubs,
 * downloaded on demand into the cache ($GRAFT_HUB_URL names a mirror of the hub, with
 * its layout, in place of https://huggingface.co). Bundled and local models come
 * first. */

typedef enum {
  GRAFT_CATALOG_BUNDLED,   /* ships with Graft */
  GRAFT_CATALOG_LOCAL,     /* trained on this machine, in the user's models folder */
  GRAFT_CATALOG_HUB,       /* downloaded from a model hub */
} GraftCatalogSource;

typedef struct {
  char               *name;         /* "graft-fmnist-resnet10", "resnet18.a1_in1k" */
  char               *title;
  char               *arch;         /* a zoo architecture: "resnet10", "vit_tiny", … */
  char               *dataset;      /* what it was trained on */
  guint               n_classes;
  char              **class_names;  /* NULL-terminated, or NULL when not listed */
  guint               image_size;   /* native resolution, pixels per side */
  guint               in_channels;
  float               mean[3];      /* normalisation per input channel */
  float               std[3];
  char               *licence;
  guint64             parameters;
  double              gmacs;        /* multiply-accumulates at image_size, billions */
  double              accuracy;     /* top-1 on its source test set; < 0 if unknown */
  char               *accuracy_on;  /* which test set */
  GraftCatalogSource  source;
  char               *weights_path; /* the file; for the hub, where the download goes */
  char               *url;          /* hub only */
  guint64             size;         /* bytes, 0 if not published */
  char               *sha256;       /* lowercase hex if published, else NULL */
  char               *card_path;    /* bundled and local */
  char               *command;      /* the recipe that made it, if Graft's */
  char               *graft_version;
} GraftCatalogEntry;

void                graft_catalog_entry_free      (GraftCatalogEntry *entry);
GraftCatalogEntry  *graft_catalog_entry_copy      (const GraftCatalogEntry *entry);
const char         *graft_catalog_source_to_string (GraftCatalogSource source);
/* Whether the weights are on this machine (a hub model once downloaded). */
gboolean            graft_catalog_entry_is_available (const GraftCatalogEntry *entry);

/* Reads a model card (the JSON written next to a recipe's weights); its weights are
 * the file the card names, in the card's folder. Errors name the card and the field. */
GraftCatalogEntry  *graft_catalog_entry_from_card (const char         *card_path,
                                                   GraftCatalogSource  source,
                                                   GError            **error);

/* The folders searched for cards: $GRAFT_MODELS_DIR if set, else the installed data
 * folder's models/ if it exists, else the source tree's data/models (an uninstalled
 * build); and the user's own, $XDG_DATA_HOME/graft/models. */
char               *graft_catalog_get_bundled_dir (void);
char               *graft_catalog_get_user_dir    (void);

/* Every entry, bundled and local first. A card that cannot be read is left out and
 * described in @problems (strings, may be NULL). */
GPtrArray          *graft_catalog_list            (GPtrArray         **problems);
/* The entry named @name, or NULL with G_IO_ERROR_NOT_FOUND listing the names. */
GraftCatalogEntry  *graft_catalog_find            (const char         *name,
                                                   GError            **error);

/* Downloads a hub entry's weights into the cache (resuming a partial file, verifying
 * the checksum the catalog or the hub gives; @verified, may be NULL, says whether one
 * was given and held). Nothing to do for other sources or when the file is already
 * there (then @verified is TRUE only for bundled and local files). Call from a worker
 * thread. */
gboolean            graft_catalog_fetch           (const GraftCatalogEntry *entry,
                                                   gboolean                *verified,
                                                   GraftDownloadProgress    progress,
                                                   gpointer                 user_data,
                                                   GCancellable            *cancellable,
                                                   GError                 **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftCatalogEntry, graft_catalog_entry_free)

G_END_DECLS
