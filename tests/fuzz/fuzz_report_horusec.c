/* fuzz_report_horusec.c -- the report parser on arbitrary input, format forced to horusec. */
#define FUZZ_REPORT_FORMAT TG_REPORT_HORUSEC
#include "fuzz_report.h"
