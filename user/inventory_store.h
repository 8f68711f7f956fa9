/* inventory_store.h - the inventory's SQLite store: open, write, prune, fall back to memory. */
#ifndef CS_INVENTORY_STORE_H
#define CS_INVENTORY_STORE_H

#include "inventory_int.h"

const char *rc_text(sqlite3 *db, int rc);
int exec(sqlite3 *db, const char *sql);
void conn_close(struct dbconn *c);
int mem_open(struct dbconn *c);
int file_open(struct inventory *inv, struct dbconn *c, enum inv_error *why, char *msg, size_t cap);
int open_readonly(const char *path, sqlite3 **db);
void go_memory(struct inventory *inv, enum inv_error why, const char *msg, int64_t now);
void try_file(struct inventory *inv, int64_t now);
int flush_writes(struct inventory *inv, int64_t now);

#endif
