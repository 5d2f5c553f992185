/*
 * met.h - the compute stage (being built: see issue "Metrics engine").
 */
#ifndef CRM_MET_H
#define CRM_MET_H
#endif
