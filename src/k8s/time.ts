/**
 * Times as the API server writes them. A metav1.Time is RFC 3339 in UTC with whole seconds: the
 * server drops the fraction, so a value we write with milliseconds would read back different, and
 * a "did anything change?" comparison before a write would never settle.
 */
export const isoSeconds = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
