// Package printer drives the kiosk's badge printers: a directory sink for
// development (Dir), any CUPS queue through the lp command (CUPS), Zebra ZPL
// printers over TCP 9100 (Zebra) and Brother QL-820NWB label printers in
// their raster protocol over TCP 9100 (BrotherQL). No printer driver is
// needed on the kiosk for the two network printers.
//
// # Failures are never silent
//
// Every error a Printer returns is an *Error whose Kind says what went wrong
// in terms the kiosk can act on (offline, out_of_media, cover_open, …) and
// whose Retryable says whether sending the same job again later may succeed.
// Drivers ask the printer for its status before sending a job and refuse to
// send into a printer that reports no media or an open cover, so the kiosk
// learns of the problem at once instead of after a lost badge.
//
// # How the kiosk engine uses it
//
// At check-in the engine renders the badge (edge/badge) and queues a Job in
// SQLite in the same transaction as the visit. A single worker takes queued
// jobs in order and calls Print with a context deadline. On success the job
// is done; on an *Error with Retryable set it stays queued and is retried with
// backoff; otherwise it is parked for staff. A failed print never blocks or
// undoes the check-in: the confirmation screen says "please ask reception for
// a badge" and the kiosk keeps working. The worker also polls Status every
// few seconds; the State is shown on the kiosk's status bar and sent to the
// cloud as the device's printer_status, so the console's Displays page shows
// a printer that is out of labels before a visitor finds out.
//
// Drivers serialise their own calls (one job or status query at a time per
// printer) and are safe for concurrent use. Network drivers take a NetOptions
// whose zero value works; tests inject short timeouts and a dialer. Fakes of
// both network printers for tests live in printer/printertest.
package printer
