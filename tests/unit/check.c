/*
 * check.c - the counters of check.h, one pair for a test program and every
 * helper it links.
 */
#include "check.h"

int check_failures;
int check_count;
