/*
 * met.c - the compute stage (being built).
 */
#include "met.h"

typedef int met_placeholder;
