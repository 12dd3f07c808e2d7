import SystemCalls
import Testing
import ProductsServer

#if canImport(Glibc)
import Glibc
#endif

/// The listening socket, in process: real sockets in a temporary directory.
@Suite struct ListenerTests {
    private func temporaryDirectory() throws -> String {
        var template = Array("/tmp/products-listener-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let path else { throw SyscallError(function: "mkdtemp", errno: errno) }
        return String(cString: path)
    }

    private func fileMode(of path: String) -> mode_t? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return info.st_mode
    }

    @Test func createsTheSocketWithTheRequestedModeAndRemovesItAfterwards() throws {
        let directory = try temporaryDirectory()
        defer { rmdir(directory) }
        let path = directory + "/fcgi.sock"
        let listener = try Listener(address: .unix(path: path), socketMode: 0o660, socketGroup: nil, backlog: 16)
        let mode = try #require(fileMode(of: path))
        #expect(mode & S_IFMT == S_IFSOCK)
        #expect(mode & 0o777 == 0o660)
        #expect(listener.fileDescriptor >= 3)
        #expect(fcntl(listener.fileDescriptor, F_GETFD) & FD_CLOEXEC != 0, "workers get it only via dup2 onto fd 0")
        listener.removeSocketFile()
        #expect(fileMode(of: path) == nil)
    }

    @Test(arguments: [
        ([:], "no socket passed"),
        (["LISTEN_PID": "1", "LISTEN_FDS": "1"], "is not this process"),
        (["LISTEN_PID": "self", "LISTEN_FDS": "2"], "expected exactly one listening socket"),
    ] as [([String: String], String)])
    func socketActivationRefusesWhatSystemdDidNotPassToThisProcess(environment: [String: String], message: String) {
        let pid = String(getpid())
        do {
            _ = try Listener.adoptSystemdSocket { name in environment[name].map { $0 == "self" ? pid : $0 } }
            Issue.record("adopted a socket with \(environment)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    @Test func replacesAStaleSocketNobodyListensOn() throws {
        let directory = try temporaryDirectory()
        defer { rmdir(directory) }
        let path = directory + "/fcgi.sock"
        do {
            // A listener that goes away without removing its file: a crashed master.
            _ = try Listener(address: .unix(path: path), socketMode: 0o600, socketGroup: nil, backlog: 1)
        }
        #expect(fileMode(of: path) != nil)
        let listener = try Listener(address: .unix(path: path), socketMode: 0o600, socketGroup: nil, backlog: 1)
        listener.removeSocketFile()
    }

    @Test func refusesASocketSomeoneIsListeningOn() throws {
        let directory = try temporaryDirectory()
        defer { rmdir(directory) }
        let path = directory + "/fcgi.sock"
        let first = try Listener(address: .unix(path: path), socketMode: 0o600, socketGroup: nil, backlog: 1)
        #expect(throws: ConfigurationError.self) {
            _ = try Listener(address: .unix(path: path), socketMode: 0o600, socketGroup: nil, backlog: 1)
        }
        #expect(fileMode(of: path) != nil, "the live socket was left alone")
        first.removeSocketFile()
    }

    @Test func refusesToReplaceAFileThatIsNotASocket() throws {
        let directory = try temporaryDirectory()
        defer { rmdir(directory) }
        let path = directory + "/fcgi.sock"
        let fd = open(path, O_CREAT | O_WRONLY, 0o600)
        close(fd)
        defer { unlink(path) }
        #expect(throws: ConfigurationError.self) {
            _ = try Listener(address: .unix(path: path), socketMode: 0o600, socketGroup: nil, backlog: 1)
        }
        #expect(fileMode(of: path).map { $0 & S_IFMT } == S_IFREG)
    }

    @Test func removesOnlyItsOwnSocketFile() throws {
        let directory = try temporaryDirectory()
        defer { rmdir(directory) }
        let path = directory + "/fcgi.sock"
        let old = try Listener(address: .unix(path: path), socketMode: 0o600, socketGroup: nil, backlog: 1)
        unlink(path)  // someone replaced it ...
        let new = try Listener(address: .unix(path: path), socketMode: 0o600, socketGroup: nil, backlog: 1)
        old.removeSocketFile()  // ... so the old listener must not remove the new file
        #expect(fileMode(of: path) != nil)
        new.removeSocketFile()
        #expect(fileMode(of: path) == nil)
    }

    @Test func bindsLoopbackTCP() throws {
        let listener = try Listener(address: .tcp(host: "127.0.0.1", port: 0), socketMode: 0, socketGroup: nil, backlog: 16)
        #expect(listener.isLoopback)
    }
}
