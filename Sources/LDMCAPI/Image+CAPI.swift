import CLDM
import LDM

@_cdecl("ldm_image_new")
public func ldm_image_new(_ width: Int32, _ height: Int32, _ channels: Int32, _ pixels: UnsafePointer<UInt8>?,
                          _ out: UnsafeMutablePointer<OpaquePointer?>?) -> ldm_status_t {
    create(out) {
        let img = try Image(width: Int(width), height: Int(height), channels: Int(channels))
        if let pixels {
            img.pixels.update(from: pixels, count: img.byteCount)
        } else {
            img.pixels.update(repeating: 0, count: img.byteCount)
        }
        return img
    }
}

@_cdecl("ldm_image_width")
public func ldm_image_width(_ i: OpaquePointer?) -> Int32 { Int32(peek(i, as: Image.self)?.width ?? 0) }

@_cdecl("ldm_image_height")
public func ldm_image_height(_ i: OpaquePointer?) -> Int32 { Int32(peek(i, as: Image.self)?.height ?? 0) }

@_cdecl("ldm_image_channels")
public func ldm_image_channels(_ i: OpaquePointer?) -> Int32 { Int32(peek(i, as: Image.self)?.channels ?? 0) }

@_cdecl("ldm_image_data")
public func ldm_image_data(_ i: OpaquePointer?) -> UnsafeMutablePointer<UInt8>? { peek(i, as: Image.self)?.pixels }

@_cdecl("ldm_image_free")
public func ldm_image_free(_ i: OpaquePointer?) {
    release(i, as: Image.self)
}

@_cdecl("ldm_image_read_png")
public func ldm_image_read_png(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> ldm_status_t {
    create(out) { try PNG.read(String(cString: try arg(path, "path"))) }
}

@_cdecl("ldm_image_write_png")
public func ldm_image_write_png(_ image: OpaquePointer?, _ path: UnsafePointer<CChar>?) -> ldm_status_t {
    call { try PNG.write(try object(image, "image", as: Image.self), to: String(cString: try arg(path, "path"))) }
}
