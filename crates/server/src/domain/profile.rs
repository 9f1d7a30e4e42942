//! Profile and settings (P1, P3, P4, P5): username, display fields, public
//! profile, avatar, notification preferences and in-app notifications.

use postroom_core::api;
use postroom_core::{check_display_lines, check_display_text, NotificationPrefs, Username};

use super::accounts::{current_user, load_user};
use super::actor::Actor;
use super::limits::{self, Check};
use super::notify::prefs_of;
use super::views;
use crate::clock::rfc3339;
use crate::error::{Error, FieldErrors, Result};
use crate::state::App;
use crate::store;

pub const MAX_DISPLAY_NAME: usize = 100;
pub const MAX_BIO: usize = 500;
pub const MAX_USAGE: usize = 100;
pub const MAX_LINKS: usize = 5;
/// Largest avatar upload accepted, before re-encoding.
pub const MAX_AVATAR_BYTES: usize = 2 * 1024 * 1024;
/// Side of the square avatar the server stores.
pub const AVATAR_SIZE: u32 = 256;

pub async fn me(app: &App, actor: &Actor) -> Result<api::User> {
    let user = current_user(app, &actor.user_id).await?;
    Ok(views::user(app, &user))
}

/// One line of text, or several (`\n` allowed), in [`text`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lines {
    One,
    Several,
}

/// Trims text and turns CRLF line ends (as browsers send them) into LF;
/// empty means "none"; too long, or holding what shown text may not (see
/// `check_display_text`), is a field error.
fn text(
    errors: &mut FieldErrors,
    field: &str,
    value: &Option<String>,
    max: usize,
    lines: Lines,
) -> Option<String> {
    let v = value.as_deref().map(|v| v.replace("\r\n", "\n"))?;
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    if v.chars().count() > max {
        errors.add(field, format!("{field} must be at most {max} characters"));
        return None;
    }
    let shown = match lines {
        Lines::One => check_display_text(v),
        Lines::Several => check_display_lines(v),
    };
    if let Err(e) = shown {
        errors.add(field, format!("{field} {e}"));
        return None;
    }
    Some(v.to_owned())
}

pub async fn update_me(app: &App, actor: &Actor, req: &api::UpdateMeRequest) -> Result<api::User> {
    let user = load_user(&mut *app.store.conn().await?, &actor.user_id).await?;
    let mut errors = FieldErrors::default();
    let username = match &req.username {
        Some(u) => errors.check("username", Username::parse(u)),
        None => None,
    };
    let display_name = match &req.display_name {
        Some(v) => text(&mut errors, "display_name", v, MAX_DISPLAY_NAME, Lines::One),
        None => user.display_name.clone(),
    };
    let bio = match &req.bio {
        Some(v) => text(&mut errors, "bio", v, MAX_BIO, Lines::Several),
        None => user.bio.clone(),
    };
    let usage = match &req.usage {
        Some(v) => text(&mut errors, "usage", v, MAX_USAGE, Lines::One),
        None => user.usage.clone(),
    };
    let links = match &req.links {
        Some(None) => Vec::new(),
        Some(Some(links)) => {
            let links: Vec<String> = links
                .iter()
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect();
            if links.len() > MAX_LINKS {
                errors.add("links", format!("at most {MAX_LINKS} links"));
            }
            for l in &links {
                if let Err(e) = postroom_core::values::check_link(l) {
                    errors.add("links", format!("{l}: {e}"));
                }
            }
            links
        }
        None => views::links_of(&user),
    };
    errors.into_result()?;
    let now = app.clock.now();
    let links_json = serde_json::to_string(&links).map_err(anyhow::Error::from)?;
    let mut tx = app.store.begin().await?;
    if let Some(username) = username.filter(|u| u.as_str() != user.username) {
        match store::users::set_username(&mut tx, &user.id, username.as_str(), &username.key(), now)
            .await
        {
            Ok(()) => {}
            Err(e) if store::is_unique_violation(&e, "users_username_key") => {
                return Err(Error::conflict(
                    "username_taken",
                    Some("username"),
                    "this username is taken",
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let fields = store::users::ProfileFields {
        display_name: display_name.as_deref(),
        bio: bio.as_deref(),
        links_json: &links_json,
        profile_public: req.profile_public.unwrap_or(user.profile_public != 0),
        usage: usage.as_deref(),
    };
    store::users::set_profile(&mut tx, &user.id, &fields, now).await?;
    let updated = load_user(&mut tx, &user.id).await?;
    tx.commit().await?;
    Ok(views::user(app, &updated))
}

/// The public profile of `username`; "not found" unless they made it public.
pub async fn public_profile(app: &App, username: &str) -> Result<api::PublicProfile> {
    let key = username.to_ascii_lowercase();
    let user = store::users::by_username_key(&mut *app.store.conn().await?, &key).await?;
    match user.filter(|u| u.profile_public != 0) {
        Some(u) => Ok(views::public_profile(app, &u)),
        None => Err(Error::NotFound { what: "profile" }),
    }
}

pub async fn notification_prefs(app: &App, actor: &Actor) -> Result<NotificationPrefs> {
    let user = current_user(app, &actor.user_id).await?;
    Ok(prefs_of(&user))
}

pub async fn set_notification_prefs(
    app: &App,
    actor: &Actor,
    prefs: &NotificationPrefs,
) -> Result<NotificationPrefs> {
    let json = serde_json::to_string(prefs).map_err(anyhow::Error::from)?;
    let mut tx = app.store.begin().await?;
    store::users::set_notification_prefs(&mut tx, &actor.user_id, &json, app.clock.now()).await?;
    tx.commit().await?;
    Ok(*prefs)
}

/// The largest side of an avatar upload, in pixels.
pub const MAX_AVATAR_SIDE: u32 = 4096;
/// The most pixels an avatar upload may have (16.8 megapixels).
pub const MAX_AVATAR_PIXELS: u64 = 4096 * 4096;
/// The most memory one avatar's decoding may take. A 4096x4096 image with 8
/// bits per channel fits; one with 16 bits per channel and alpha does not.
const MAX_DECODE_ALLOC: u64 = 96 * 1024 * 1024;

/// Re-encodes an uploaded image as a 256x256 PNG, cropped to the centre.
/// Anything that is not a PNG, JPEG or WebP image is refused, and so is an
/// image whose declared size is too large, before it is decoded: a small
/// file can declare a huge image (a few hundred kilobytes of PNG make
/// 8000x8000 pixels), and decoding it takes memory by its pixels.
pub fn reencode_avatar(bytes: &[u8]) -> Result<Vec<u8>> {
    use image::{ImageError, ImageFormat, ImageReader, Limits};
    if bytes.len() > MAX_AVATAR_BYTES {
        return Err(Error::TooLarge {
            message: "the image must be at most 2 MB".into(),
        });
    }
    if bytes.is_empty() {
        return Err(Error::field(
            "avatar",
            "empty_image",
            "the upload is empty: send the image itself",
        ));
    }
    let format = image::guess_format(bytes).map_err(|_| unsupported())?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP
    ) {
        return Err(unsupported());
    }
    let reader = || ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let unreadable = |e: ImageError| match e {
        ImageError::Limits(_) => image_too_large(),
        e => Error::field(
            "avatar",
            "invalid_image",
            format!("the image could not be read: {e}"),
        ),
    };
    let (width, height) = reader().into_dimensions().map_err(unreadable)?;
    if width > MAX_AVATAR_SIDE
        || height > MAX_AVATAR_SIDE
        || u64::from(width) * u64::from(height) > MAX_AVATAR_PIXELS
    {
        return Err(image_too_large());
    }
    let mut reader = reader();
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_AVATAR_SIDE);
    limits.max_image_height = Some(MAX_AVATAR_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let mut image = reader.decode().map_err(unreadable)?;
    // Cropping first keeps the resize small: scaling a long thin image to
    // fill the square would first make it hundreds of times longer.
    let side = image.width().min(image.height());
    if image.width() != image.height() {
        image = image.crop_imm(
            (image.width() - side) / 2,
            (image.height() - side) / 2,
            side,
            side,
        );
    }
    let square = image.resize_exact(
        AVATAR_SIZE,
        AVATAR_SIZE,
        image::imageops::FilterType::Lanczos3,
    );
    let mut out = std::io::Cursor::new(Vec::new());
    square
        .write_to(&mut out, ImageFormat::Png)
        .map_err(|e| Error::Internal(e.into()))?;
    Ok(out.into_inner())
}

fn unsupported() -> Error {
    Error::UnsupportedMedia {
        message: "the avatar must be a PNG, JPEG or WebP image".into(),
    }
}

fn image_too_large() -> Error {
    Error::field(
        "avatar",
        "image_too_large",
        format!(
            "the image must be at most {MAX_AVATAR_SIDE} pixels on each side \
             and 16.8 megapixels in all"
        ),
    )
}

/// Avatars decoded at once in this process: one per core, so that many
/// uploads together take memory for that many images, not for all of them.
fn decode_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    });
    &PERMITS
}

pub async fn set_avatar(app: &App, actor: &Actor, bytes: Vec<u8>) -> Result<api::User> {
    limits::limit(
        app,
        &[Check::new(limits::AVATAR_PER_ACCOUNT, &actor.user_id)],
    )
    .await?;
    let permit = decode_permits()
        .acquire()
        .await
        .map_err(|e| Error::Internal(e.into()))?;
    // The permit goes with the work, so a request given up while it waits
    // for the result does not free a place while the decoding still runs.
    let png = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        reencode_avatar(&bytes)
    })
    .await
    .map_err(|e| Error::Internal(e.into()))??;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    store::avatars::put(&mut tx, &actor.user_id, "image/png", &png, now).await?;
    store::users::set_avatar_version(&mut tx, &actor.user_id, Some(now), now).await?;
    let user = load_user(&mut tx, &actor.user_id).await?;
    tx.commit().await?;
    Ok(views::user(app, &user))
}

pub async fn delete_avatar(app: &App, actor: &Actor) -> Result<()> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let existed = store::avatars::delete(&mut tx, &actor.user_id).await?;
    store::users::set_avatar_version(&mut tx, &actor.user_id, None, now).await?;
    tx.commit().await?;
    if existed {
        Ok(())
    } else {
        Err(Error::NotFound { what: "avatar" })
    }
}

/// An avatar image, for its owner or, when the profile is public, anyone.
pub async fn avatar(app: &App, viewer: Option<&Actor>, user_id: &str) -> Result<(String, Vec<u8>)> {
    let mut c = app.store.conn().await?;
    let owner = store::users::by_id(&mut c, user_id).await?;
    let visible =
        owner.is_some_and(|u| u.profile_public != 0 || viewer.is_some_and(|v| v.user_id == u.id));
    if !visible {
        return Err(Error::NotFound { what: "avatar" });
    }
    store::avatars::get(&mut c, user_id)
        .await?
        .ok_or(Error::NotFound { what: "avatar" })
}

/// Whether the person has yet to go through onboarding (A3).
pub async fn needs_onboarding(app: &App, actor: &Actor) -> Result<bool> {
    let user = current_user(app, &actor.user_id).await?;
    Ok(user.onboarded_at.is_none())
}

/// Finishes onboarding with the answers (display name, what Postroom is
/// used for), or skips it when there are none.
pub async fn complete_onboarding(
    app: &App,
    actor: &Actor,
    answers: Option<(&str, &str)>,
) -> Result<()> {
    if let Some((display_name, usage)) = answers {
        let req = api::UpdateMeRequest {
            display_name: Some(Some(display_name.to_owned())),
            usage: Some(Some(usage.to_owned())),
            ..Default::default()
        };
        update_me(app, actor, &req).await?;
    }
    let mut tx = app.store.begin().await?;
    store::users::mark_onboarded(&mut tx, &actor.user_id, app.clock.now()).await?;
    tx.commit().await?;
    Ok(())
}

pub const NOTIFICATIONS_PAGE: i64 = 50;

pub async fn notifications(
    app: &App,
    actor: &Actor,
    before: Option<&str>,
    limit: Option<i64>,
) -> Result<api::NotificationPage> {
    let limit = limit.unwrap_or(NOTIFICATIONS_PAGE).clamp(1, 200);
    let mut c = app.store.conn().await?;
    let mut rows =
        store::events::notifications_page(&mut c, &actor.user_id, before, limit + 1).await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| r.id.clone())
    } else {
        None
    };
    let unread_count = store::events::unread_count(&mut c, &actor.user_id).await? as u64;
    Ok(api::NotificationPage {
        notifications: rows
            .into_iter()
            .map(|n| api::Notification {
                id: n.id,
                kind: n.kind,
                message: n.message,
                created_at: rfc3339(n.created_at),
                read: n.read_at.is_some(),
            })
            .collect(),
        unread_count,
        next_cursor,
    })
}

pub async fn mark_notifications_read(
    app: &App,
    actor: &Actor,
    ids: Option<&[String]>,
) -> Result<u64> {
    if ids.is_some_and(|ids| ids.len() > 500) {
        return Err(Error::field(
            "ids",
            "validation_failed",
            "at most 500 ids at once",
        ));
    }
    let mut tx = app.store.begin().await?;
    let marked = store::events::mark_read(&mut tx, &actor.user_id, ids, app.clock.now()).await?;
    tx.commit().await?;
    Ok(marked)
}

/// Everything Postroom keeps about the caller, as one document (P9): the
/// same views the API shows one by one, with every notification.
pub async fn export(app: &App, actor: &Actor) -> Result<api::AccountExport> {
    let mut all_notifications = Vec::new();
    let mut before = None;
    loop {
        let page = notifications(app, actor, before.as_deref(), Some(200)).await?;
        all_notifications.extend(page.notifications);
        match page.next_cursor {
            Some(cursor) => before = Some(cursor),
            None => break,
        }
    }
    let events = store::events::since(
        &mut *app.store.conn().await?,
        &format!("user:{}", actor.user_id),
        0,
        i64::MAX,
    )
    .await?;
    let activity = events
        .into_iter()
        .map(|e| api::ActivityEvent {
            kind: e.kind,
            data: serde_json::from_str(&e.data).unwrap_or_default(),
            created_at: rfc3339(e.created_at),
        })
        .collect();
    Ok(api::AccountExport {
        format: "postroom-account-export/1".to_owned(),
        activity,
        exported_at: rfc3339(app.clock.now()),
        user: me(app, actor).await?,
        notification_preferences: notification_prefs(app, actor).await?,
        sessions: super::sessions::list(app, actor).await?.sessions,
        api_keys: super::api_keys::list(app, actor).await?.api_keys,
        teams: super::teams::list_mine(app, actor).await?.teams,
        notifications: all_notifications,
        support_requests: super::support::list_at_most(app, actor, i64::MAX)
            .await?
            .support_requests,
        workspace: super::workspace::export_private(app, actor).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 80, 20]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn avatars_are_resized_to_a_square_png() {
        let out = reencode_avatar(&png(640, 320)).unwrap();
        let back = image::load_from_memory(&out).unwrap();
        assert_eq!((back.width(), back.height()), (AVATAR_SIZE, AVATAR_SIZE));
    }

    /// An image of one colour: large in pixels, small as a file.
    fn blank_png(w: u32, h: u32) -> Vec<u8> {
        let img = image::GrayImage::new(w, h);
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn code(r: Result<Vec<u8>>) -> &'static str {
        match r {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn images_too_large_in_pixels_are_refused_before_decoding() {
        let bomb = blank_png(8000, 8000);
        assert!(bomb.len() < MAX_AVATAR_BYTES, "{} bytes", bomb.len());
        assert_eq!(code(reencode_avatar(&bomb)), "image_too_large");
        assert_eq!(
            code(reencode_avatar(&blank_png(4097, 16))),
            "image_too_large"
        );
        assert_eq!(
            code(reencode_avatar(&blank_png(16, 4097))),
            "image_too_large"
        );
        // Long and thin is cropped before it is scaled.
        for (w, h) in [(4096, 1), (1, 4096), (4096, 3)] {
            let out = reencode_avatar(&blank_png(w, h)).unwrap();
            let back = image::load_from_memory(&out).unwrap();
            assert_eq!((back.width(), back.height()), (AVATAR_SIZE, AVATAR_SIZE));
        }
    }

    #[test]
    fn other_formats_and_junk_are_refused() {
        assert!(matches!(
            reencode_avatar(b"GIF89a......"),
            Err(Error::UnsupportedMedia { .. })
        ));
        assert!(matches!(
            reencode_avatar(b"hello"),
            Err(Error::UnsupportedMedia { .. })
        ));
        let mut truncated = png(64, 64);
        truncated.truncate(60);
        assert!(matches!(
            reencode_avatar(&truncated),
            Err(Error::Invalid { .. })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..2048), prefix in 0usize..3) {
            // Start some inputs with a real magic number so the decoders run.
            let magic: &[&[u8]] = &[b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\0\0\0\0WEBPVP8 "];
            let mut input = magic[prefix].to_vec();
            input.append(&mut bytes);
            let r = reencode_avatar(&input);
            prop_assert!(!matches!(r, Err(Error::Internal(_))));
        }
    }
}
