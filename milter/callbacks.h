/*
 * callbacks.h: the libmilter callback table (callbacks.c).  It reads the
 * policy for new connections from current.h; register it with
 * smfi_register(cb_desc) before smfi_main().
 */
#ifndef CALLBACKS_H
#define CALLBACKS_H

#include <libmilter/mfapi.h>

extern struct smfiDesc cb_desc;

#endif
