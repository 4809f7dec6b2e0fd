import CPNG

/// PNG files through libpng's simplified API. Any PNG is read as 8-bit RGB (palette, grey,
/// alpha and 16-bit inputs are converted); writing keeps the image's channel count.
public enum PNG {
    public static func read(_ path: String) throws -> Image {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_file(&png, path) != 0 else {
            let why = message(&png)
            png_image_free(&png)
            if !pathExists(path) { throw LDMError.notFound("\(path): no such file") }
            throw LDMError.badMagic("\(path) is not a readable PNG: \(why)")
        }
        guard png.width <= UInt32(Image.maxSide), png.height <= UInt32(Image.maxSide) else {
            png_image_free(&png)
            throw LDMError.shape("\(path) is \(png.width)x\(png.height), larger than \(Image.maxSide) on a side")
        }
        png.format = UInt32(PNG_FORMAT_FLAG_COLOR)
        let img: Image
        do {
            img = try Image(width: Int(png.width), height: Int(png.height), channels: 3)
        } catch {
            png_image_free(&png)
            throw error
        }
        guard png_image_finish_read(&png, nil, img.pixels, 0, nil) != 0 else {
            let why = message(&png)
            png_image_free(&png)
            throw LDMError.corrupt("\(path): \(why)")
        }
        return img
    }

    public static func write(_ img: Image, to path: String) throws {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(img.width)
        png.height = UInt32(img.height)
        png.format = UInt32(img.channels == 1 ? 0 : img.channels == 4 ? PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA : PNG_FORMAT_FLAG_COLOR)
        guard png_image_write_to_file(&png, path, 0, img.pixels, 0, nil) != 0 else {
            let why = message(&png)
            png_image_free(&png)
            throw LDMError.io("cannot write \(path): \(why)")
        }
    }

    private static func message(_ png: inout png_image) -> String {
        withUnsafeBytes(of: &png.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
