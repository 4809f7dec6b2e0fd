/// Nearest-neighbour 2x upsampling of x [N, C, H, W] to [N, C, 2H, 2W].
public func upsampleNearest2x(_ x: Tensor, ws: Workspace) throws -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let y = try Tensor([n, c, 2 * h, 2 * w])
    let src = x.data, dst = y.data
    parallelRanges(n * c * h, threads: ws.threads) { rows in
        for row in rows {
            let s = src + row * w
            let d = dst + row * 4 * w
            for i in 0..<w {
                let v = s[i]
                d[2 * i] = v
                d[2 * i + 1] = v
            }
            (d + 2 * w).update(from: d, count: 2 * w)
        }
    }
    return y
}

/// 2x2 average pooling with stride 2 (odd trailing rows and columns are dropped, as in torch).
public func avgPool2x(_ x: Tensor, ws: Workspace) throws -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (ho, wo) = (h / 2, w / 2)
    let y = try Tensor([n, c, ho, wo])
    let src = x.data, dst = y.data
    parallelRanges(n * c, threads: ws.threads) { planes in
        for p in planes {
            let s = src + p * h * w, d = dst + p * ho * wo
            for i in 0..<ho {
                for j in 0..<wo {
                    let a = s + 2 * i * w + 2 * j
                    d[i * wo + j] = (a[0] + a[1] + a[w] + a[w + 1]) * 0.25
                }
            }
        }
    }
    return y
}
