/* invcmd.h - `certsentry inventory`: what each endpoint serves now and served before. */
#ifndef CS_INVCMD_H
#define CS_INVCMD_H

/* argv[0] is "inventory". Returns the exit status. */
int inventory_main(int argc, char **argv);

#endif
