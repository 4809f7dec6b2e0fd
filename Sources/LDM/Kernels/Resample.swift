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
