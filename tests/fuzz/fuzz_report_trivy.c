/* fuzz_report_trivy.c -- the report parser on arbitrary input, format forced to trivy. */
#define FUZZ_REPORT_FORMAT TG_REPORT_TRIVY
#include "fuzz_report.h"
