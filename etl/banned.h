/*
 * banned.h - functions we never call, turned into compile errors.
 *
 * Unbounded copies and formatters overflow buffers; non-reentrant time and
 * tokenizer functions share hidden state. Use snprintf, memcpy with a known
 * length, gmtime_r/localtime_r and explicit scanning instead.
 * Included last by every .c file of crmetl (after system headers).
 */
#ifndef CRM_BANNED_H
#define CRM_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef gmtime
#define gmtime(t) BANNED(gmtime)
#undef localtime
#define localtime(t) BANNED(localtime)
#undef ctime
#define ctime(t) BANNED(ctime)
#undef asctime
#define asctime(t) BANNED(asctime)
#undef atoi
#define atoi(s) BANNED(atoi)
#undef atol
#define atol(s) BANNED(atol)

#endif
