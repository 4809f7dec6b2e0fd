import Synchronization

/// The library never prints. Messages go to the host's sink, if it installed one.
public enum LogLevel: Int32 {
    case debug = 0, info = 1, warn = 2, error = 3
}

public enum Log {
    public typealias Sink = (LogLevel, String) -> Void

    private static let sink = Mutex<Sink?>(nil)

    public static func setSink(_ s: Sink?) {
        sink.withLock { $0 = s }
    }

    static func write(_ level: LogLevel, _ message: @autoclosure () -> String) {
        sink.withLock { s in s?(level, message()) }
    }
}
