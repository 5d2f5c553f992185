/*
 * fetch.h - the fetch stage (being built: see issue "Fetch exports over HTTP(S)").
 */
#ifndef CRM_FETCH_H
#define CRM_FETCH_H
#endif
