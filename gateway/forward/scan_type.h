/* scan_type.h -- which DefectDojo parser (its scan_type name) reads a counted report.
 *
 * Pure functions, any thread. The format Tollgate counted decides (Trivy Scan, Horusec Scan,
 * SARIF, Anchore Grype); a GitLab report by its scan.type; a policy report entry's
 * defectdojo_scan_type names it where the report cannot (GitLab reports older than the scan
 * object) and wins when given. A report whose type cannot be named is never guessed.
 */
#ifndef TG_SCAN_TYPE_H
#define TG_SCAN_TYPE_H

#include <stddef.h>

/* format: "trivy", "horusec", "sarif", "grype", "gitlab"; gitlab_scan_type: the report's
 * scan.type (NULL when absent); configured: the entry's defectdojo_scan_type (NULL when not
 * given). Returns the scan_type (static or configured, borrowed), or NULL with the reason in
 * err. */
const char *tg_dojo_scan_type(const char *format, const char *gitlab_scan_type,
                              const char *configured, char *err, size_t errlen);

#endif
