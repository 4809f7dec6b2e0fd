import Glibc

/// A whole file mapped read-only. Weights are used in place from the mapping: their pages are
/// file-backed, shared with the page cache, and never counted as the process's anonymous memory.
public final class MappedFile {
    public let path: String
    public let base: UnsafeRawPointer
    public let size: Int

    public init(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw fileError(path, errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw fileError(path, errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw LDMError.invalidArgument("\(path) is not a regular file")
        }
        guard st.st_size > 0 else { throw LDMError.corrupt("\(path) is empty") }
        let size = Int(st.st_size)
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw LDMError.io("cannot map \(path): \(errnoText(errno))") }
        self.path = path
        self.base = UnsafeRawPointer(p)
        self.size = size
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), size) }

    /// Tells the kernel that a range will not be needed soon; its pages can be dropped and are
    /// read again from the file if touched.
    public func release(_ start: UnsafeRawPointer, _ count: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = (Int(bitPattern: start) + page - 1) / page * page
        let hi = (Int(bitPattern: start) + count) / page * page
        if hi > lo { madvise(UnsafeMutableRawPointer(bitPattern: lo), hi - lo, MADV_DONTNEED) }
    }
}

func errnoText(_ e: Int32) -> String { String(cString: strerror(e)) }

func fileError(_ path: String, _ e: Int32) -> LDMError {
    e == ENOENT || e == ENOTDIR ? .notFound("\(path): no such file") : .io("cannot open \(path): \(errnoText(e))")
}

/// True when `path` names a directory.
public func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

/// True when `path` names an existing file or directory.
public func pathExists(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0
}
