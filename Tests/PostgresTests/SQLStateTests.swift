import Testing
import Postgres

/// What the worker and the importer decide from an error's SQLSTATE (no database needed).
@Suite struct SQLStateTests {
    func error(_ state: String?, code: PostgresError.Code = .server) -> PostgresError {
        PostgresError(code: code, sqlState: state, detail: "test")
    }

    @Test func classification() {
        // Reconnect and retry: the connection is gone...
        for state in ["08006", "08003", "57P01", "57P02", "57P03"] { #expect(error(state).isConnectionLoss, "\(state)") }
        #expect(error(nil, code: .connection).isConnectionLoss)
        // ... or the session's prepared statements no longer fit.
        #expect(error("26000").invalidatesSession && error("0A000").invalidatesSession)
        // Retry on another server: a standby's recovery conflict.
        #expect(error("40001").isRecoveryConflict && error("40P01").isRecoveryConflict)
        // 503 now, fine later.
        for state in ["57014", "40001", "53300", "53200"] { #expect(error(state).isTransient, "\(state)") }
        // The importer's lock wait.
        #expect(error("55P03").isLockNotAvailable)
        // A bug, never retried: 500.
        for state in ["42P01", "22P02", "23505"] {
            let e = error(state)
            #expect(!e.isConnectionLoss && !e.invalidatesSession && !e.isRecoveryConflict && !e.isTransient && !e.isLockNotAvailable, "\(state)")
        }
        #expect(!error(nil, code: .protocolViolation).isTransient)
    }
}
