package store

// DisableBulkApply makes db's ApplyOps write every op's rows one
// statement at a time, as the reference the bulk path is compared with.
func DisableBulkApply(db *DB) { db.bulkApplyOff = true }
