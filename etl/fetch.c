/*
 * fetch.c - the fetch stage (being built).
 */
#include "fetch.h"

typedef int fetch_placeholder;
