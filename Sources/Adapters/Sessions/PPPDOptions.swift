#if canImport(Glibc)
import Glibc
#endif
import Domain
import SystemPackage

/// The options file pppd reads for one PPPoE line (`pppd file PATH`): the only place the password
/// goes. pppd gets nothing else on its command line, so `ps` shows no secret, and Flywall never
/// touches the operator's `/etc/ppp/pap-secrets` or `chap-secrets`: pppd's `password` option
/// answers both PAP and CHAP. The file is mode 0600 in a 0700 directory of the state dir and is
/// removed when the session ends.
public enum PPPDOptions {
    /// What pppd is told. Flywall supervises (no `persist`: pppd exits when the session ends and
    /// the core decides the restart), owns routing (`nodefaultroute`: the uplink's routes live in
    /// Flywall's tables) and names the interface (`ifname`) so the config's WAN maps to it.
    public static func text(for session: PPPoESessionSpec) -> String {
        """
        # Written by Flywall for the PPPoE line on \(session.interface); removed when its session ends.
        plugin rp-pppoe.so
        nic-\(session.interface)
        ifname \(session.device)
        user \(quoted(session.credentials.username))
        password \(quoted(session.credentials.password))
        hide-password
        nodetach
        noauth
        nodefaultroute
        noipdefault
        noaccomp
        default-asyncmap
        mtu 1492
        mru 1492
        lcp-echo-interval 5
        lcp-echo-failure 3

        """
    }

    /// pppd's quoting: a word in double quotes, with `\` and `"` escaped.
    static func quoted(_ word: String) -> String {
        var out = "\""
        for c in word {
            if c == "\\" || c == "\"" { out.append("\\") }
            out.append(c)
        }
        return out + "\""
    }

    /// Creates `directory` (mode 0700, owned by us; its parent, the state dir, too if missing) and
    /// makes sure nobody else can enter it.
    public static func prepareDirectory(_ directory: String) throws(SystemError) {
        var created = mkdir(directory, 0o700) == 0
        if !created && Glibc.errno == ENOENT, let slash = directory.lastIndex(of: "/"), slash != directory.startIndex {
            let parent = String(directory[..<slash])
            if mkdir(parent, 0o755) != 0 && Glibc.errno != EEXIST { throw .lastErrno("mkdir", on: parent) }
            created = mkdir(directory, 0o700) == 0
        }
        if !created && Glibc.errno != EEXIST {
            throw .lastErrno("mkdir", on: directory)
        }
        var info = stat()
        guard lstat(directory, &info) == 0 else { throw .lastErrno("lstat", on: directory) }
        guard info.st_mode & S_IFMT == S_IFDIR, info.st_uid == geteuid() else {
            throw SystemError(operation: "PPPoE secrets directory", subject: directory, errno: nil,
                              detail: "exists but is not a directory owned by this user")
        }
        if info.st_mode & 0o777 != 0o700, chmod(directory, 0o700) != 0 { throw .lastErrno("chmod 0700", on: directory) }
    }

    /// Writes the file afresh at `path`, mode 0600 from its creation (never briefly readable).
    public static func write(_ session: PPPoESessionSpec, to path: String) throws(SystemError) {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .lastErrno("open", on: path) }
        defer { close(fd) }
        var bytes = Array(text(for: session).utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && Glibc.errno == EINTR { continue }
            guard n > 0 else { throw .lastErrno("write", on: path) }
            written += n
        }
        bytes.withUnsafeMutableBytes { _ = memset($0.baseAddress!, 0, $0.count) }
    }
}
