import SystemCalls
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Who the server runs as. Started as root (to bind a socket in /run, chown it to nginx's
/// group), the master gives root up for good before it starts a worker: a bug in a worker,
/// libfcgi or libpq must not be a root shell.
public enum Privileges {
    /// A user to run as, resolved once from the names given on the command line.
    public struct Account: Sendable, Equatable {
        public let name: String
        public let uid: uid_t
        public let gid: gid_t

        public init(name: String, uid: uid_t, gid: gid_t) {
            self.name = name
            self.uid = uid
            self.gid = gid
        }
    }

    /// `--user NAME` (and `--group NAME`, else the user's primary group), from the user and
    /// group databases.
    public static func account(user: String, group: String?) throws -> Account {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        let error = getpwnam_r(user, &entry, &buffer, buffer.count, &result)
        guard error == 0 else { throw SyscallError(function: "getpwnam_r(\(user))", errno: error) }
        guard result != nil else { throw ConfigurationError("--user \(user): no such user") }
        var gid = entry.pw_gid
        if let group {
            do {
                gid = try Listener.groupID(named: group)
            } catch is ConfigurationError {
                throw ConfigurationError("--group \(group): no such group")
            }
        }
        return Account(name: user, uid: entry.pw_uid, gid: gid)
    }

    /// What to switch to, given the effective user and the requested account: nil when there
    /// is nothing to switch (not root, and the account is ourselves or none was asked for).
    /// Root must name a user other than root; anyone else may only name themselves.
    public static func plan(euid: uid_t, egid: gid_t, requested: Account?) throws(ConfigurationError) -> Account? {
        guard let requested else {
            if euid == 0 { throw ConfigurationError("refusing to run as root; pass --user NAME") }
            return nil
        }
        if euid == 0 {
            guard requested.uid != 0 else { throw ConfigurationError("--user \(requested.name): refusing to run as root; name an unprivileged user") }
            return requested
        }
        guard requested.uid == euid, requested.gid == egid else {
            throw ConfigurationError("--user \(requested.name): only root can switch to another user or group (running as uid \(euid), gid \(egid))")
        }
        return nil
    }

    /// Gives up root for `account`, for good: supplementary groups, then the group, then the
    /// user (after setuid, setgid would no longer be allowed), each checked; then proves that
    /// root cannot be taken back. Throws, and the caller must not go on, if any step fails.
    public static func drop(to account: Account) throws(SyscallError) {
        try syscall("initgroups(\(account.name), \(account.gid))") { initgroups(account.name, account.gid) }
        try syscall("setgid(\(account.gid))") { setgid(account.gid) }
        try syscall("setuid(\(account.uid))") { setuid(account.uid) }
        guard setuid(0) == -1, getuid() == account.uid, geteuid() == account.uid,
              getgid() == account.gid, getegid() == account.gid else {
            throw SyscallError(function: "dropping privileges to \(account.name) (root could be regained)", errno: EPERM)
        }
    }
}
