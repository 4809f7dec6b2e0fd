import CKernels

/// x += y, element by element (residual connections).
public func addInPlace(_ x: Tensor, _ y: Tensor, ws: Workspace) {
    precondition(x.count == y.count)
    let a = x.data, b = y.data
    parallelRanges(x.count, threads: ws.threads) { r in
        for i in r { a[i] += b[i] }
    }
}

/// x = silu(x) = x * sigmoid(x).
public func siluInPlace(_ x: Tensor, ws: Workspace) {
    let a = x.data
    parallelRanges(x.count, threads: ws.threads) { r in
        ck_silu(a + r.lowerBound, r.count)
    }
}

/// GEGLU: x [rows, 2n] holds [a | gate] per row; y [rows, n] = a * gelu(gate).
public func geglu(_ x: UnsafePointer<Float>, rows: Int, n: Int, into y: UnsafeMutablePointer<Float>, threads: Int) {
    parallelRanges(rows, threads: threads) { rs in
        for r in rs {
            let a = x + r * 2 * n
            ck_geglu(a, a + n, y + r * n, n)
        }
    }
}

/// [N, Ca, h, w] and [N, Cb, h, w] -> [N, Ca + Cb, h, w] (the UNet's skip connections).
public func concatChannels(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    guard a.shape.count == 4, b.shape.count == 4, a.shape[0] == b.shape[0], a.shape[2...] == b.shape[2...] else {
        throw LDMError.shape("cannot concatenate \(a.shape) and \(b.shape) along channels")
    }
    let y = try Tensor([a.shape[0], a.shape[1] + b.shape[1], a.shape[2], a.shape[3]])
    for n in 0..<a.shape[0] {
        y.item(n).update(from: a.item(n), count: a.itemCount)
        (y.item(n) + a.itemCount).update(from: b.item(n), count: b.itemCount)
    }
    return y
}
