import Glibc

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
        for i in r { a[i] = siluf(a[i]) }
    }
}
